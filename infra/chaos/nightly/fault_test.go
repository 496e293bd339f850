package nightly

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// faultDB is the DynamoDB client with a kill switch: after killAt writes
// (PutItem, UpdateItem, DeleteItem, BatchWriteItem) it cancels the run's
// context and fails every later call, as if the function had been killed
// there. killAt < 0 never kills; the writes are counted and labelled
// either way.
type faultDB struct {
	db     *dynamodb.Client
	killAt int
	cancel context.CancelFunc

	mu     sync.Mutex
	writes []string // labels of the writes done
	killed bool
}

func newFaultDB(db *dynamodb.Client, killAt int, cancel context.CancelFunc) *faultDB {
	return &faultDB{db: db, killAt: killAt, cancel: cancel}
}

// write runs a write unless the kill switch is (or now becomes) on.
func write[T any](f *faultDB, ctx context.Context, lbl string, do func() (T, error)) (T, error) {
	f.mu.Lock()
	if !f.killed && f.killAt >= 0 && len(f.writes) >= f.killAt {
		f.killed = true
		f.cancel()
	}
	if f.killed {
		f.mu.Unlock()
		var zero T
		return zero, context.Canceled
	}
	f.writes = append(f.writes, lbl)
	f.mu.Unlock()
	return do()
}

func (f *faultDB) dead() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.killed
}

// Writes returns the labels of the writes done.
func (f *faultDB) Writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.writes...)
}

func (f *faultDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return write(f, ctx, label("PutItem", in.Item, ""), func() (*dynamodb.PutItemOutput, error) { return f.db.PutItem(ctx, in, opts...) })
}

func (f *faultDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	upd := ""
	if in.UpdateExpression != nil {
		upd = *in.UpdateExpression
	}
	return write(f, ctx, label("UpdateItem", in.Key, upd), func() (*dynamodb.UpdateItemOutput, error) { return f.db.UpdateItem(ctx, in, opts...) })
}

func (f *faultDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return write(f, ctx, label("DeleteItem", in.Key, ""), func() (*dynamodb.DeleteItemOutput, error) { return f.db.DeleteItem(ctx, in, opts...) })
}

func (f *faultDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	var key map[string]types.AttributeValue
	for _, reqs := range in.RequestItems {
		if len(reqs) > 0 && reqs[0].PutRequest != nil {
			key = reqs[0].PutRequest.Item
		} else if len(reqs) > 0 && reqs[0].DeleteRequest != nil {
			key = reqs[0].DeleteRequest.Key
		}
	}
	return write(f, ctx, label("BatchWriteItem", key, ""), func() (*dynamodb.BatchWriteItemOutput, error) { return f.db.BatchWriteItem(ctx, in, opts...) })
}

func (f *faultDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if f.dead() {
		return nil, context.Canceled
	}
	return f.db.GetItem(ctx, in, opts...)
}

func (f *faultDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if f.dead() {
		return nil, context.Canceled
	}
	return f.db.Query(ctx, in, opts...)
}

func (f *faultDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	if f.dead() {
		return nil, context.Canceled
	}
	return f.db.BatchGetItem(ctx, in, opts...)
}
