package dynamostore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uptakehq/uptake/shared/kpi"
)

// ClaimResponse records r, answered on day, as the latest answer of its
// respondent to its survey, unless a newer answer is already recorded.
// counted says whether r is the latest (and so counts); replaced is the day
// of the earlier answer it displaced, zero if none or the same day.
func (st *Store) ClaimResponse(ctx context.Context, tenantID string, r kpi.Response, day kpi.Day) (counted bool, replaced kpi.Day, err error) {
	ts := strconv.FormatInt(r.Time.UnixNano(), 10)
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(st.table),
		Key:                      key("T#"+tenantID+"#RESP", r.Type+"#"+r.SurveyID+"#"+r.Respondent),
		UpdateExpression:         aws.String("SET ts = :ts, mid = :mid, #day = :day"),
		ConditionExpression:      aws.String("attribute_not_exists(pk) OR ts < :ts OR (ts = :ts AND mid <= :mid)"),
		ExpressionAttributeNames: map[string]string{"#day": "day"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":ts": n(ts), ":mid": s(r.MessageID), ":day": s(day.String()),
		},
		ReturnValues: types.ReturnValueAllOld,
	})
	if isConditionFailed(err) {
		return false, kpi.Day{}, nil
	}
	if err != nil {
		return false, kpi.Day{}, fmt.Errorf("claim survey response: %w", err)
	}
	if old := str(out.Attributes, "day"); old != "" && old != day.String() {
		if replaced, err = kpi.ParseDay(old); err != nil {
			return true, kpi.Day{}, fmt.Errorf("stored response day: %w", err)
		}
	}
	return true, replaced, nil
}
