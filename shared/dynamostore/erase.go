package dynamostore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uptakehq/uptake/shared/alert"
	"github.com/uptakehq/uptake/shared/erase"
	"github.com/uptakehq/uptake/shared/kpi"
)

// Erasure records: T#<tenant>#ERASURE  <completed-at>#<subject hash>#<random>  {receipt JSON}.
func erasurePK(tenantID string) string { return "T#" + tenantID + "#ERASURE" }

// EraseState removes what the aggregation kept of a person: the identity
// entries of ids (a user, the visitors linked to them, the account named
// after the user) with their signup cohort entries and subscriber marks,
// the latest survey answers of responses' keys, the tickets of ticketIDs
// with their created-day index, and pending alerts about any of ids.
// Removing what is already gone is fine, so a retried erasure completes.
func (st *Store) EraseState(ctx context.Context, tenantID string, ids []string, responses []kpi.Response, ticketIDs []string) (erase.Erased, error) {
	var e erase.Erased
	for _, id := range ids {
		old, err := st.deleteItem(ctx, key(identityPK(tenantID), identitySK(id)))
		if err != nil {
			return e, fmt.Errorf("erase identity: %w", err)
		}
		if old != nil {
			e.Identities++
			if d := str(old, string(kpi.SignedUp)+daySuffix); d != "" {
				if _, err := st.deleteItem(ctx, key(cohortPK(tenantID), d+"#"+id)); err != nil {
					return e, fmt.Errorf("erase cohort entry: %w", err)
				}
			}
		}
		if _, err := st.deleteItem(ctx, key(subscribersPK(tenantID), id)); err != nil {
			return e, fmt.Errorf("erase subscriber: %w", err)
		}
	}
	for _, r := range responses {
		old, err := st.deleteItem(ctx, key("T#"+tenantID+"#RESP", r.Type+"#"+r.SurveyID+"#"+r.Respondent))
		if err != nil {
			return e, fmt.Errorf("erase survey answer: %w", err)
		}
		if old != nil {
			e.Answers++
		}
	}
	for _, id := range ticketIDs {
		old, err := st.deleteItem(ctx, key(ticketPK(tenantID), id))
		if err != nil {
			return e, fmt.Errorf("erase ticket: %w", err)
		}
		if old == nil {
			continue
		}
		e.Tickets++
		if d := str(old, "day"); d != "" {
			if _, err := st.deleteItem(ctx, key(createdPK(tenantID), d+"#"+id)); err != nil {
				return e, fmt.Errorf("erase ticket index: %w", err)
			}
		}
	}
	n, err := st.eraseAlerts(ctx, tenantID, ids)
	e.Alerts = n
	return e, err
}

// eraseAlerts removes the pending alerts whose respondent is one of ids.
func (st *Store) eraseAlerts(ctx context.Context, tenantID string, ids []string) (int, error) {
	items, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(alertPK(tenantID))},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return 0, fmt.Errorf("erase alerts: %w", err)
	}
	who := map[string]bool{}
	for _, id := range ids {
		who[id] = true
	}
	n := 0
	for _, it := range items {
		var a alert.Alert
		if err := json.Unmarshal([]byte(str(it, "alert")), &a); err != nil || !who[a.Respondent] {
			continue
		}
		if _, err := st.deleteItem(ctx, key(alertPK(tenantID), str(it, "sk"))); err != nil {
			return n, fmt.Errorf("erase alert: %w", err)
		}
		n++
	}
	return n, nil
}

// deleteItem deletes one item and returns it, nil if there was none.
func (st *Store) deleteItem(ctx context.Context, k map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(st.table), Key: k, ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return nil, err
	}
	return out.Attributes, nil
}

// PutErasure records a completed erasure: receipt is its JSON, subject the
// hash that names the person without keeping their id.
func (st *Store) PutErasure(ctx context.Context, tenantID string, at time.Time, subject string, receipt []byte) error {
	rnd := make([]byte, 4)
	if _, err := rand.Read(rnd); err != nil {
		return fmt.Errorf("record erasure: %w", err)
	}
	// The random suffix keeps two erasures of one person in the same
	// instant apart.
	item := key(erasurePK(tenantID), at.UTC().Format(timeLayout)+"#"+subject+"#"+hex.EncodeToString(rnd))
	item["receipt"] = s(string(receipt))
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.table), Item: item}); err != nil {
		return fmt.Errorf("record erasure: %w", err)
	}
	return nil
}

// Erasures returns the recorded erasures' receipts, oldest first.
func (st *Store) Erasures(ctx context.Context, tenantID string) ([]json.RawMessage, error) {
	items, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(erasurePK(tenantID))},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("list erasures: %w", err)
	}
	out := make([]json.RawMessage, 0, len(items))
	for _, it := range items {
		r := strings.TrimSpace(str(it, "receipt"))
		if json.Valid([]byte(r)) {
			out = append(out, json.RawMessage(r))
		}
	}
	return out, nil
}
