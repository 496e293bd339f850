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

	"github.com/uptakehq/uptake/shared/alert"
)

// Alert outbox items: T#<tenant>#ALERT  <id>  {alert JSON, attempts, next}.
func alertPK(tenantID string) string { return "T#" + tenantID + "#ALERT" }

// PutAlert adds an alert to the outbox, due at once; an alert already
// there (a retried delivery) is left as it is.
func (st *Store) PutAlert(ctx context.Context, tenantID string, a alert.Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	item := key(alertPK(tenantID), a.ID)
	item["alert"] = s(string(b))
	item["attempts"] = n("0")
	item["next"] = n("0")
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(st.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("put alert: %w", err)
	}
	return nil
}

// DueAlerts lists the alerts due at now.
func (st *Store) DueAlerts(ctx context.Context, tenantID string, now time.Time) ([]alert.Pending, error) {
	items, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk"),
		FilterExpression:          aws.String("#n <= :now"),
		ExpressionAttributeNames:  map[string]string{"#n": "next"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(alertPK(tenantID)), ":now": n(strconv.FormatInt(now.UnixNano(), 10))},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("due alerts: %w", err)
	}
	out := make([]alert.Pending, 0, len(items))
	for _, it := range items {
		var p alert.Pending
		if err := json.Unmarshal([]byte(str(it, "alert")), &p.Alert); err != nil {
			return nil, fmt.Errorf("alert %s: %w", str(it, "sk"), err)
		}
		p.Attempts, _ = strconv.Atoi(num(it, "attempts"))
		next, _ := strconv.ParseInt(num(it, "next"), 10, 64)
		p.Next = time.Unix(0, next)
		out = append(out, p)
	}
	return out, nil
}

// RetryAlert records a failed attempt and when to try again.
func (st *Store) RetryAlert(ctx context.Context, tenantID string, p alert.Pending) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(st.table),
		Key:                       key(alertPK(tenantID), p.Alert.ID),
		UpdateExpression:          aws.String("SET attempts = :a, #n = :n"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames:  map[string]string{"#n": "next"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": n(strconv.Itoa(p.Attempts)), ":n": n(strconv.FormatInt(p.Next.UnixNano(), 10))},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("retry alert: %w", err)
	}
	return nil
}

// DeleteAlert removes a delivered (or abandoned) alert.
func (st *Store) DeleteAlert(ctx context.Context, tenantID, id string) error {
	if _, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(st.table), Key: key(alertPK(tenantID), id)}); err != nil {
		return fmt.Errorf("delete alert: %w", err)
	}
	return nil
}
