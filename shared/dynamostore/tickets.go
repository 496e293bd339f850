package dynamostore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uptakehq/uptake/shared/kpi"
)

// Ticket items:
//
//	T#<tenant>#TICKET     <id>              latest state (JSON), its update time and created day
//	T#<tenant>#TCREATED   <day>#<id>        index of tickets by created day
func ticketPK(tenantID string) string  { return "T#" + tenantID + "#TICKET" }
func createdPK(tenantID string) string { return "T#" + tenantID + "#TCREATED" }

// ClaimTicket folds an update into the ticket's stored state
// (kpi.MergeTicket: latest update by the provider's time, earliest
// creation and first response). It reports whether the state changed, and
// its created day (dayOf gives the tenant's day of a time), and the
// created day it replaced when that moved.
func (st *Store) ClaimTicket(ctx context.Context, tenantID string, t kpi.Ticket, dayOf func(time.Time) kpi.Day) (changed bool, day, prev kpi.Day, err error) {
	for attempt := 0; ; attempt++ {
		out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(st.table), Key: key(ticketPK(tenantID), t.ID), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return false, kpi.Day{}, kpi.Day{}, fmt.Errorf("read ticket: %w", err)
		}
		var old *kpi.Ticket
		oldJSON := ""
		if out.Item != nil {
			oldJSON = str(out.Item, "state")
			var o kpi.Ticket
			if err := json.Unmarshal([]byte(oldJSON), &o); err != nil {
				return false, kpi.Day{}, kpi.Day{}, fmt.Errorf("decode ticket %s: %w", t.ID, err)
			}
			old = &o
		}
		merged := kpi.MergeTicket(old, t)
		b, err := json.Marshal(merged)
		if err != nil {
			return false, kpi.Day{}, kpi.Day{}, fmt.Errorf("encode ticket: %w", err)
		}
		day = dayOf(merged.Created)
		if string(b) == oldJSON {
			return false, day, kpi.Day{}, nil
		}
		// The created-day index first: a run killed between the two writes
		// leaves an entry that TicketsCreated skips (the state's day is
		// not its day), whereas a state without its entry would never be
		// indexed, its re-claim changing nothing.
		if err := st.batchWrite(ctx, []types.WriteRequest{{PutRequest: &types.PutRequest{Item: key(createdPK(tenantID), day.String()+"#"+t.ID)}}}); err != nil {
			return false, kpi.Day{}, kpi.Day{}, fmt.Errorf("index ticket: %w", err)
		}
		item := key(ticketPK(tenantID), t.ID)
		item["day"] = s(day.String())
		item["state"] = s(string(b))
		in := &dynamodb.PutItemInput{TableName: aws.String(st.table), Item: item, ReturnValues: types.ReturnValueAllOld}
		if old == nil {
			in.ConditionExpression = aws.String("attribute_not_exists(pk)")
		} else {
			in.ConditionExpression = aws.String("#s = :old")
			in.ExpressionAttributeNames = map[string]string{"#s": "state"}
			in.ExpressionAttributeValues = map[string]types.AttributeValue{":old": s(oldJSON)}
		}
		put, err := st.db.PutItem(ctx, in)
		if isConditionFailed(err) && attempt < 5 {
			continue // another update landed: merge again
		}
		if err != nil {
			return false, kpi.Day{}, kpi.Day{}, fmt.Errorf("claim ticket: %w", err)
		}
		if d := str(put.Attributes, "day"); d != "" && d != day.String() {
			if prev, err = kpi.ParseDay(d); err != nil {
				return true, day, kpi.Day{}, fmt.Errorf("stored ticket day: %w", err)
			}
		}
		if !prev.IsZero() {
			reqs := []types.WriteRequest{{DeleteRequest: &types.DeleteRequest{Key: key(createdPK(tenantID), prev.String()+"#"+t.ID)}}}
			if err := st.batchWrite(ctx, reqs); err != nil {
				return true, day, prev, fmt.Errorf("unindex ticket: %w", err)
			}
		}
		return true, day, prev, nil
	}
}

// TicketsCreated returns the latest state of the tickets created on day.
func (st *Store) TicketsCreated(ctx context.Context, tenantID string, day kpi.Day) ([]kpi.Ticket, error) {
	items, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :d)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(createdPK(tenantID)), ":d": s(day.String() + "#")},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("query tickets of %s: %w", day, err)
	}
	keys := make([]map[string]types.AttributeValue, 0, len(items))
	for _, it := range items {
		keys = append(keys, key(ticketPK(tenantID), strings.TrimPrefix(str(it, "sk"), day.String()+"#")))
	}
	states, err := st.batchGet(ctx, keys, "", nil)
	if err != nil {
		return nil, fmt.Errorf("read tickets of %s: %w", day, err)
	}
	out := make([]kpi.Ticket, 0, len(states))
	for _, it := range states {
		if str(it, "day") != day.String() {
			continue // moved to another day since the index was read
		}
		var t kpi.Ticket
		if err := json.Unmarshal([]byte(str(it, "state")), &t); err != nil {
			return nil, fmt.Errorf("decode ticket %s: %w", str(it, "sk"), err)
		}
		out = append(out, t)
	}
	return out, nil
}

func subscribersPK(tenantID string) string { return "T#" + tenantID + "#SUBS" }

// AddSubscribers records accounts that ever had a subscription event.
func (st *Store) AddSubscribers(ctx context.Context, tenantID string, accounts []string) error {
	reqs := make([]types.WriteRequest, 0, len(accounts))
	for _, a := range accounts {
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: key(subscribersPK(tenantID), a)}})
	}
	if err := st.batchWrite(ctx, reqs); err != nil {
		return fmt.Errorf("add subscribers: %w", err)
	}
	return nil
}

// Subscribers lists the accounts that ever had a subscription event.
func (st *Store) Subscribers(ctx context.Context, tenantID string) ([]string, error) {
	items, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(subscribersPK(tenantID))},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("list subscribers: %w", err)
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, str(it, "sk"))
	}
	return out, nil
}
