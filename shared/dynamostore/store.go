// Package dynamostore keeps Uptake's state in one DynamoDB table: tenants
// and hashed keys, configuration, the identity dictionary, survey answer
// state, daily KPI parts and the days waiting for a re-run.
//
// Items (pk, sk):
//
//	TENANT                 <tenant>           a tenant
//	KEY#<sha256>           KEY                an API key's tenant and kind
//	T#<tenant>             CONFIG             KPI configuration (JSON)
//	T#<tenant>             SECRET#<provider>  a webhook signing secret
//	T#<tenant>#ID          <identity>         ordinal and first active day
//	T#<tenant>#ID          #counter           next ordinal
//	T#<tenant>#RESP        <type>#<survey>#<respondent>  latest answer
//	T#<tenant>#DAY         <YYYY-MM-DD>       a day's KPI part, or the head of one packed in several items
//	T#<tenant>#DAY         <YYYY-MM-DD>#<nn>  a packed day part's further items (days.go)
//	T#<tenant>#MONTH       h#<YYYY-MM>        a month part's head: its counters, version and groups (months.go)
//	T#<tenant>#MONTH       <g>#<YYYY-MM>#<v>#<nn>  the items of a group of a month part's values (sets, lists, answers, …) of version v
//	T#<tenant>#DIRTY       <YYYY-MM-DD>       a day with events newer than its part
//	T#<tenant>#ERASURE     <time>#<subject>   a user's data erased on request
package dynamostore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uptakehq/uptake/shared/secretbox"
)

// api is the part of the DynamoDB client the store uses, with the SDK's
// exact signatures, so that the real client or a fault-injecting fake fits.
type api interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Store is the DynamoDB adapter.
type Store struct {
	db    api
	table string
	box   *secretbox.Box
	// packDaysOver, when not 0, replaces maxItemBytes as the size over
	// which a day part is packed (PackDaysOver).
	packDaysOver int
	// packMonthBytes, when not 0, replaces packItemBytes as the size of
	// the items month parts are packed into (PackMonthItems).
	packMonthBytes int
}

// New returns a store on table; box seals the secrets it keeps (webhook
// signing secrets, tools' settings with API tokens).
func New(db api, table string, box *secretbox.Box) *Store {
	return &Store{db: db, table: table, box: box}
}

// CreateTable creates the table as template.yaml declares it; an existing
// table is fine. The deployed stack's table comes from the template; this is
// for the local stack and tests.
func CreateTable(ctx context.Context, db *dynamodb.Client, table string) error {
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create table %s: %w", table, err)
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("ttl"), Enabled: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("enable TTL on %s: %w", table, err)
	}
	return nil
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(pk), "sk": s(sk)}
}

func str(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func num(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}

func isConditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

// query runs a paged Query and returns every item.
func (st *Store) query(ctx context.Context, in *dynamodb.QueryInput) ([]map[string]types.AttributeValue, error) {
	in.TableName = aws.String(st.table)
	var items []map[string]types.AttributeValue
	for {
		out, err := st.db.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// queryRange returns the items of pk whose sk is between from and to.
func (st *Store) queryRange(ctx context.Context, pk, from, to string) ([]map[string]types.AttributeValue, error) {
	return st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk), ":a": s(from), ":b": s(to)},
		ConsistentRead:            aws.Bool(true),
	})
}

// batchWrite writes requests 25 at a time, retrying what DynamoDB leaves
// unprocessed.
func (st *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	for len(reqs) > 0 {
		chunk := reqs[:min(25, len(reqs))]
		reqs = reqs[len(chunk):]
		for attempt := 0; len(chunk) > 0; attempt++ {
			if attempt > 8 {
				return errors.New("batch write: items still unprocessed after retries")
			}
			if attempt > 0 {
				if err := backoff(ctx, attempt); err != nil {
					return err
				}
			}
			out, err := st.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{st.table: chunk}})
			if err != nil {
				return fmt.Errorf("batch write: %w", err)
			}
			chunk = out.UnprocessedItems[st.table]
		}
	}
	return nil
}

// batchGet reads keys 100 at a time, retrying unprocessed keys; projection,
// when not empty, names the attributes to read (names: its placeholders).
func (st *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, projection string, names map[string]string) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	for len(keys) > 0 {
		chunk := keys[:min(100, len(keys))]
		keys = keys[len(chunk):]
		for attempt := 0; len(chunk) > 0; attempt++ {
			if attempt > 8 {
				return nil, errors.New("batch get: keys still unprocessed after retries")
			}
			if attempt > 0 {
				if err := backoff(ctx, attempt); err != nil {
					return nil, err
				}
			}
			ka := types.KeysAndAttributes{Keys: chunk, ConsistentRead: aws.Bool(true)}
			if projection != "" {
				ka.ProjectionExpression = aws.String(projection)
				if len(names) > 0 {
					ka.ExpressionAttributeNames = names
				}
			}
			out, err := st.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{st.table: ka}})
			if err != nil {
				return nil, fmt.Errorf("batch get: %w", err)
			}
			items = append(items, out.Responses[st.table]...)
			chunk = out.UnprocessedKeys[st.table].Keys
		}
	}
	return items, nil
}
