package dynamostore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/uptakehq/uptake/infra/localstack"
	"github.com/uptakehq/uptake/infra/localstack/localstacktest"
	"github.com/uptakehq/uptake/shared/dynamostore"
	"github.com/uptakehq/uptake/shared/kpi"
)

// dying is the DynamoDB client of a process killed after `left` more
// writes: every later write fails.
type dying struct {
	*dynamodb.Client
	left int
}

var errKilled = errors.New("killed")

func (d *dying) write() error {
	if d.left == 0 {
		return errKilled
	}
	d.left--
	return nil
}

func (d *dying) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := d.write(); err != nil {
		return nil, err
	}
	return d.Client.PutItem(ctx, in, opts...)
}

func (d *dying) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := d.write(); err != nil {
		return nil, err
	}
	return d.Client.UpdateItem(ctx, in, opts...)
}

func (d *dying) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if err := d.write(); err != nil {
		return nil, err
	}
	return d.Client.DeleteItem(ctx, in, opts...)
}

func (d *dying) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	if err := d.write(); err != nil {
		return nil, err
	}
	return d.Client.BatchWriteItem(ctx, in, opts...)
}

// TestClaimTicketKilledThenClaimedAgain: a run killed part-way through
// claiming a new ticket claims it again on its next run, and the ticket
// is then listed on its created day, wherever the kill landed (the chaos
// suite found a ticket lost when the kill fell between its state and its
// created-day index).
func TestClaimTicketKilledThenClaimedAgain(t *testing.T) {
	ctx := context.Background()
	db := localstack.NewDynamoDBClient(localstacktest.DynamoDBEndpoint(t))
	created := time.Date(2026, 10, 3, 9, 0, 0, 0, time.UTC)
	tk := kpi.Ticket{ID: "T1", Status: "new", Created: created, Updated: created}
	dayOf := func(t time.Time) kpi.Day { return kpi.DayOf(t, time.UTC) }
	for writes := 0; writes < 3; writes++ {
		table := localstacktest.UniqueName("killed")
		if err := dynamostore.CreateTable(ctx, db, table); err != nil {
			t.Fatal(err)
		}
		_, _, _, err := dynamostore.New(&dying{Client: db, left: writes}, table, nil).ClaimTicket(ctx, "acme", tk, dayOf)
		if writes < 2 && !errors.Is(err, errKilled) {
			t.Fatalf("killed after %d writes: ClaimTicket = %v, want the kill", writes, err)
		}
		st := dynamostore.New(db, table, nil)
		if _, _, _, err := st.ClaimTicket(ctx, "acme", tk, dayOf); err != nil {
			t.Fatal(err)
		}
		got, err := st.TicketsCreated(ctx, "acme", dayOf(created))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != "T1" {
			t.Errorf("killed after %d writes, claimed again: tickets created on %s = %v, want T1", writes, dayOf(created), got)
		}
	}
}
