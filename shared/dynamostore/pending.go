package dynamostore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uptakehq/uptake/shared/kpi"
)

// MarkPending marks days dirty at `at` where no mark exists yet, and
// returns the days it marked. A run calls it before a write that may
// invalidate those days' parts, so that a run killed after the write
// leaves them for the next one; marks already there (newer events) are
// left as they are.
func (st *Store) MarkPending(ctx context.Context, tenantID string, days []kpi.Day, at time.Time) ([]kpi.Day, error) {
	var marked []kpi.Day
	for _, d := range days {
		item := key("T#"+tenantID+"#DIRTY", d.String())
		item["at"] = n(strconv.FormatInt(at.UnixNano(), 10))
		_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(st.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)"),
		})
		if isConditionFailed(err) {
			continue
		}
		if err != nil {
			return marked, fmt.Errorf("mark day pending: %w", err)
		}
		marked = append(marked, d)
	}
	return marked, nil
}

// ResponsesReplaced returns, for each answer of rs, the day of the stored
// answer it would replace (zero where none would be, or it would not
// win), in the order of rs.
func (st *Store) ResponsesReplaced(ctx context.Context, tenantID string, rs []kpi.Response) ([]kpi.Day, error) {
	sks := make([]string, len(rs))
	for i, r := range rs {
		sks[i] = r.Type + "#" + r.SurveyID + "#" + r.Respondent
	}
	items, err := st.items(ctx, "T#"+tenantID+"#RESP", sks)
	if err != nil {
		return nil, err
	}
	out := make([]kpi.Day, len(rs))
	for i, r := range rs {
		it, ok := items[sks[i]]
		if !ok {
			continue
		}
		ts, _ := strconv.ParseInt(num(it, "ts"), 10, 64)
		rts := r.Time.UnixNano()
		if ts < rts || ts == rts && str(it, "mid") <= r.MessageID {
			if out[i], err = kpi.ParseDay(str(it, "day")); err != nil {
				return nil, fmt.Errorf("stored survey answer day: %w", err)
			}
		}
	}
	return out, nil
}

// Tickets returns the stored state and created day of the tickets of ids
// that exist.
func (st *Store) Tickets(ctx context.Context, tenantID string, ids []string) (map[string]kpi.Ticket, map[string]kpi.Day, error) {
	items, err := st.items(ctx, ticketPK(tenantID), ids)
	if err != nil {
		return nil, nil, err
	}
	states, days := map[string]kpi.Ticket{}, map[string]kpi.Day{}
	for id, it := range items {
		var t kpi.Ticket
		if err := json.Unmarshal([]byte(str(it, "state")), &t); err != nil {
			return nil, nil, fmt.Errorf("decode ticket %s: %w", id, err)
		}
		d, err := kpi.ParseDay(str(it, "day"))
		if err != nil {
			return nil, nil, fmt.Errorf("stored ticket day: %w", err)
		}
		states[id], days[id] = t, d
	}
	return states, days, nil
}

// items reads the items of pk with the sort keys sks, by sort key.
func (st *Store) items(ctx context.Context, pk string, sks []string) (map[string]map[string]types.AttributeValue, error) {
	out := map[string]map[string]types.AttributeValue{}
	if len(sks) == 0 {
		return out, nil
	}
	seen := map[string]bool{}
	var keys []map[string]types.AttributeValue
	for _, sk := range sks {
		if !seen[sk] {
			seen[sk] = true
			keys = append(keys, key(pk, sk))
		}
	}
	items, err := st.batchGet(ctx, keys, "", nil)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		out[str(it, "sk")] = it
	}
	return out, nil
}
