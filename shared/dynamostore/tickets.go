package dynamostore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

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

// ClaimTicket stores t as the ticket's state unless a newer update (by the
// provider's update time) is stored. It reports whether it changed the
// state, and the created day it replaced when that moved.
func (st *Store) ClaimTicket(ctx context.Context, tenantID string, t kpi.Ticket, created kpi.Day) (bool, kpi.Day, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return false, kpi.Day{}, fmt.Errorf("encode ticket: %w", err)
	}
	item := key(ticketPK(tenantID), t.ID)
	item["upd"] = s(t.Updated.UTC().Format(timeLayout))
	item["k"] = s(t.Key())
	item["day"] = s(created.String())
	item["state"] = s(string(b))
	out, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(st.table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR upd < :u OR (upd = :u AND k < :k)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": item["upd"], ":k": item["k"]},
		ReturnValues:              types.ReturnValueAllOld,
	})
	if isConditionFailed(err) {
		return false, kpi.Day{}, nil
	}
	if err != nil {
		return false, kpi.Day{}, fmt.Errorf("claim ticket: %w", err)
	}
	var old kpi.Day
	if d := str(out.Attributes, "day"); d != "" && d != created.String() {
		if old, err = kpi.ParseDay(d); err != nil {
			return true, kpi.Day{}, fmt.Errorf("stored ticket day: %w", err)
		}
	}
	reqs := []types.WriteRequest{{PutRequest: &types.PutRequest{Item: key(createdPK(tenantID), created.String()+"#"+t.ID)}}}
	if !old.IsZero() {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(createdPK(tenantID), old.String()+"#"+t.ID)}})
	}
	if err := st.batchWrite(ctx, reqs); err != nil {
		return true, old, fmt.Errorf("index ticket: %w", err)
	}
	return true, old, nil
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
	states, err := st.batchGet(ctx, keys, "")
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
