package chaos

import (
	"bytes"
	"testing"
	"time"

	"github.com/uptakehq/uptake/infra/stacktest"
)

// TestLostAnswers loses the answer of the first attempt of every
// conditional DynamoDB write of the aggregation (the write is carried out,
// the connection is reset before the answer arrives): the SDK sends each
// again, and finds its own write in the way of the condition. The result
// must still equal the undisturbed run's. (A write sent again reads its
// own first attempt as the stored item, so what it replaced is not in its
// answer: the run takes the days to re-run from what it read before
// writing.) Every conditional write fails once, so the SDK's retry quota
// would run dry in the first seconds: the clients retry without one.
func TestLostAnswers(t *testing.T) {
	w := generate("small", 1, small)
	want := undisturbed(t, w)
	began := time.Now()
	faults := newFaultTransport(1, 0)
	faults.rule = func(op string, body []byte, first bool) fault {
		if first && (op == "UpdateItem" || op == "PutItem") && bytes.Contains(body, []byte(`"ConditionExpression"`)) {
			return resetAfter
		}
		return ""
	}
	c := newClient(stacktest.StartWith(t, stacktest.Options{Transport: faults, Retryer: patientRetryer}))
	c.send(t, w, nil)
	faults.on.Store(true)
	c.aggregate(t, w.from, w.to)
	faults.on.Store(false)
	got := take(t, c, w.from, w.to)
	_, retries, injected, ops := faults.figures()
	t.Logf("answers lost: %d (%v), sent again by the SDK: %v", injected[resetAfter], ops, retries)
	c.report(t, "lost-answer run", time.Since(began))
	if injected[resetAfter] == 0 {
		t.Fatal("no answer lost: the case did not test it")
	}
	compare(t, got, want)
}
