package webhook_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/uptakehq/uptake/shared/tenant"
	"github.com/uptakehq/uptake/shared/webhook"
)

// surveyFuzzCase is what the survey tools' fuzz targets share: a body
// signed as the tool signs verifies, a wrong secret or a forged header
// does not, and normalising either gives complete answers or an error of
// a kind the handler knows.
type surveyFuzzCase struct {
	adapter     webhook.Adapter
	sign        func(secret tenant.Secret, body []byte) webhook.Request
	secret      tenant.Secret
	otherSecret tenant.Secret
	header      string // the signature header, forged with the body
	mapping     webhook.Mapping
	kind        func(error) string // "", "signature", "other", …
	// oneAnswer says a delivery carries exactly one answer (else at least
	// one); otherKinds names the allowed error kinds in messages.
	oneAnswer  bool
	otherKinds string
}

func (c surveyFuzzCase) run(t *testing.T, body []byte) {
	r := c.sign(c.secret, body)
	if err := c.adapter.Verify(c.secret, r); err != nil {
		t.Fatalf("signed body rejected: %v", err)
	}
	if err := c.adapter.Verify(c.otherSecret, r); c.kind(err) != "signature" {
		t.Fatalf("wrong secret: %v", err)
	}
	forged := webhook.Request{Body: body, Header: http.Header{c.header: {string(body)}}}
	if err := c.adapter.Verify(c.secret, forged); c.kind(err) != "signature" {
		t.Fatalf("forged header: %v", err)
	}
	_ = c.adapter.DeliveryID(r)
	res, err := c.adapter.Normalise(context.Background(), r, c.mapping)
	switch c.kind(err) {
	case "":
		if c.oneAnswer && len(res.Answers) != 1 {
			t.Fatalf("%d answers", len(res.Answers))
		}
		if len(res.Answers) == 0 {
			t.Fatal("no answers and no error")
		}
		for _, ans := range res.Answers {
			if ans.Respondent == "" || ans.ResponseID == "" || ans.At.IsZero() {
				t.Fatalf("incomplete answer %+v", ans)
			}
		}
	case "other":
		t.Fatalf("error is neither %s error: %T %v", c.otherKinds, err, err)
	}
}
