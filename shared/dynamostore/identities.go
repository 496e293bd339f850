package dynamostore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uptakehq/uptake/shared/kpi"
)

func identityPK(tenantID string) string { return "T#" + tenantID + "#ID" }

// counterSK holds the next ordinal; identities' keys start with "I#".
const counterSK = "#counter"

func identitySK(id string) string { return "I#" + id }

// Identities returns the dictionary entries of ids, creating the missing
// ones with fresh ordinals. Two runs creating the same identity at once
// agree on one ordinal (the first written wins).
func (st *Store) Identities(ctx context.Context, tenantID string, ids []string) (map[string]kpi.Identity, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(ids))
	for _, id := range ids {
		keys = append(keys, key(identityPK(tenantID), identitySK(id)))
	}
	items, err := st.batchGet(ctx, keys, "", nil)
	if err != nil {
		return nil, fmt.Errorf("read identities: %w", err)
	}
	got := make(map[string]kpi.Identity, len(ids))
	for _, it := range items {
		ident, err := decodeIdentity(it)
		if err != nil {
			return nil, err
		}
		got[strings.TrimPrefix(str(it, "sk"), "I#")] = ident
	}
	var missing []string
	for _, id := range ids {
		if _, ok := got[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return got, nil
	}
	first, err := st.reserveOrdinals(ctx, tenantID, len(missing))
	if err != nil {
		return nil, err
	}
	created, err := st.createIdentities(ctx, tenantID, missing, first)
	if err != nil {
		return nil, err
	}
	for id, ident := range created {
		got[id] = ident
	}
	return got, nil
}

func decodeIdentity(it map[string]types.AttributeValue) (kpi.Identity, error) {
	ord, err := strconv.ParseUint(num(it, "ord"), 10, 32)
	if err != nil {
		return kpi.Identity{}, fmt.Errorf("identity %q: bad ordinal: %w", str(it, "sk"), err)
	}
	ident := kpi.Identity{Ordinal: uint32(ord), Firsts: map[kpi.Milestone]kpi.First{}}
	if raw := str(it, "traits"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &ident.Traits); err != nil {
			return kpi.Identity{}, fmt.Errorf("identity %q traits: %w", str(it, "sk"), err)
		}
	}
	for name := range it {
		m, ok := strings.CutSuffix(name, daySuffix)
		if !ok {
			continue
		}
		d, err1 := kpi.ParseDay(str(it, name))
		at, err2 := time.Parse(timeLayout, str(it, m))
		if err := errors.Join(err1, err2); err != nil {
			return kpi.Identity{}, fmt.Errorf("identity %q %s: %w", str(it, "sk"), m, err)
		}
		ident.Firsts[kpi.Milestone(m)] = kpi.First{At: at, Day: d}
	}
	return ident, nil
}

// reserveOrdinals takes count consecutive ordinals and returns the first.
func (st *Store) reserveOrdinals(ctx context.Context, tenantID string, count int) (uint32, error) {
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(st.table),
		Key:                       key(identityPK(tenantID), counterSK),
		UpdateExpression:          aws.String("ADD next_ord :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": n(strconv.Itoa(count))},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("reserve ordinals: %w", err)
	}
	next, err := strconv.ParseUint(num(out.Attributes, "next_ord"), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("ordinal counter: %w", err)
	}
	return uint32(next) - uint32(count), nil
}

// createIdentities writes new entries, each only if absent; where another
// run won, its entry is read back.
func (st *Store) createIdentities(ctx context.Context, tenantID string, ids []string, first uint32) (map[string]kpi.Identity, error) {
	out := make(map[string]kpi.Identity, len(ids))
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, 16)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ident, err := st.createIdentity(ctx, tenantID, id, first+uint32(i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			out[id] = ident
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

func (st *Store) createIdentity(ctx context.Context, tenantID, id string, ord uint32) (kpi.Identity, error) {
	item := key(identityPK(tenantID), identitySK(id))
	item["ord"] = n(strconv.FormatUint(uint64(ord), 10))
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(st.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if err == nil {
		return kpi.Identity{Ordinal: ord, Firsts: map[kpi.Milestone]kpi.First{}}, nil
	}
	if !isConditionFailed(err) {
		return kpi.Identity{}, fmt.Errorf("create identity: %w", err)
	}
	got, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(st.table), Key: key(identityPK(tenantID), identitySK(id)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return kpi.Identity{}, fmt.Errorf("read identity: %w", err)
	}
	return decodeIdentity(got.Item)
}

// timeLayout writes milestone times at a fixed width, so that DynamoDB's
// string comparison orders them; daySuffix names the attribute holding a
// milestone's day.
const (
	timeLayout = "2006-01-02T15:04:05.000000000Z"
	daySuffix  = "@day"
)

// SetFirst records that id reached milestone m at f, unless it is known
// to have reached it earlier. It returns the milestone it replaced (zero if
// none) and whether it changed anything. Signups are also written to the
// cohort index of their day.
func (st *Store) SetFirst(ctx context.Context, tenantID, id string, m kpi.Milestone, f kpi.First) (replaced kpi.First, changed bool, err error) {
	if m == kpi.SignedUp {
		// The cohort entry goes first: a run killed between the two writes
		// leaves an entry the milestone does not confirm (readers check
		// it), never a signup missing from its cohort.
		if err := st.batchWrite(ctx, []types.WriteRequest{{PutRequest: &types.PutRequest{Item: key(cohortPK(tenantID), f.Day.String()+"#"+id)}}}); err != nil {
			return kpi.First{}, false, fmt.Errorf("index signup cohort: %w", err)
		}
	}
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(st.table),
		Key:                                 key(identityPK(tenantID), identitySK(id)),
		UpdateExpression:                    aws.String("SET #m = :t, #d = :d"),
		ConditionExpression:                 aws.String("attribute_exists(pk) AND (attribute_not_exists(#m) OR #m > :t)"),
		ExpressionAttributeNames:            map[string]string{"#m": string(m), "#d": string(m) + daySuffix},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":t": s(f.At.UTC().Format(timeLayout)), ":d": s(f.Day.String())},
		ReturnValues:                        types.ReturnValueUpdatedOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		// Not earlier than what is stored: the cohort entry written above
		// goes, unless it is the stored signup's own.
		if m == kpi.SignedUp && str(cf.Item, string(m)+daySuffix) != f.Day.String() {
			if _, err := st.deleteItem(ctx, key(cohortPK(tenantID), f.Day.String()+"#"+id)); err != nil {
				return kpi.First{}, false, fmt.Errorf("index signup cohort: %w", err)
			}
		}
		return kpi.First{}, false, nil
	}
	if err != nil {
		return kpi.First{}, false, fmt.Errorf("set %s: %w", m, err)
	}
	if old := str(out.Attributes, string(m)); old != "" {
		at, err1 := time.Parse(timeLayout, old)
		d, err2 := kpi.ParseDay(str(out.Attributes, string(m)+daySuffix))
		if err := errors.Join(err1, err2); err != nil {
			return kpi.First{}, true, fmt.Errorf("stored %s: %w", m, err)
		}
		replaced = kpi.First{At: at, Day: d}
	}
	if m == kpi.SignedUp && !replaced.Day.IsZero() && !replaced.Day.Equal(f.Day) {
		if _, err := st.deleteItem(ctx, key(cohortPK(tenantID), replaced.Day.String()+"#"+id)); err != nil {
			return kpi.First{}, true, fmt.Errorf("index signup cohort: %w", err)
		}
	}
	return replaced, true, nil
}

// PutTraits replaces id's trait history with next, if it still is old
// (another run may have changed it: then ok is false and nothing is
// written).
func (st *Store) PutTraits(ctx context.Context, tenantID, id string, old, next kpi.Traits) (ok bool, err error) {
	b, err := json.Marshal(next)
	if err != nil {
		return false, fmt.Errorf("encode traits: %w", err)
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(st.table),
		Key:                       key(identityPK(tenantID), identitySK(id)),
		UpdateExpression:          aws.String("SET traits = :new"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND attribute_not_exists(traits)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":new": s(string(b))},
	}
	if len(old) > 0 {
		ob, err := json.Marshal(old)
		if err != nil {
			return false, fmt.Errorf("encode traits: %w", err)
		}
		in.ConditionExpression = aws.String("traits = :old")
		in.ExpressionAttributeValues[":old"] = s(string(ob))
	}
	_, err = st.db.UpdateItem(ctx, in)
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("put traits: %w", err)
	}
	return true, nil
}

func cohortPK(tenantID string) string { return "T#" + tenantID + "#COHORT" }

// Cohort lists the users whose signup day is day, and may list a user
// whose signup a killed run did not record (callers check the identity).
func (st *Store) Cohort(ctx context.Context, tenantID string, day kpi.Day) ([]string, error) {
	items, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :d)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(cohortPK(tenantID)), ":d": s(day.String() + "#")},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("query cohort %s: %w", day, err)
	}
	ids := make([]string, 0, len(items))
	for _, it := range items {
		ids = append(ids, strings.TrimPrefix(str(it, "sk"), day.String()+"#"))
	}
	return ids, nil
}
