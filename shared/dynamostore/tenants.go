package dynamostore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uptakehq/uptake/shared/kpi"
	"github.com/uptakehq/uptake/shared/tenant"
)

// PutTenant records a tenant.
func (st *Store) PutTenant(ctx context.Context, id string) error {
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.table), Item: key("TENANT", id)})
	if err != nil {
		return fmt.Errorf("put tenant %s: %w", id, err)
	}
	return nil
}

// Tenants lists every tenant id, sorted.
func (st *Store) Tenants(ctx context.Context) ([]string, error) {
	items, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("TENANT")},
	})
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	ids := make([]string, 0, len(items))
	for _, it := range items {
		ids = append(ids, str(it, "sk"))
	}
	slices.Sort(ids)
	return ids, nil
}

// PutKey stores a key's hash with its tenant and kind.
func (st *Store) PutKey(ctx context.Context, hash, tenantID string, kind tenant.Kind) error {
	item := key("KEY#"+hash, "KEY")
	item["tenant"] = s(tenantID)
	item["kind"] = s(string(kind))
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.table), Item: item}); err != nil {
		return fmt.Errorf("put key: %w", err)
	}
	return nil
}

// LookupKey finds the tenant and kind of a hashed key.
func (st *Store) LookupKey(ctx context.Context, hash string) (string, tenant.Kind, bool, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: key("KEY#"+hash, "KEY")})
	if err != nil {
		return "", "", false, fmt.Errorf("get key: %w", err)
	}
	if out.Item == nil {
		return "", "", false, nil
	}
	return str(out.Item, "tenant"), tenant.Kind(str(out.Item, "kind")), true, nil
}

// PutWebhookSecret stores a tenant's signing secret for a provider,
// sealed. The secret it replaces stays valid as the previous one, so that
// deliveries signed during a rotation are not refused.
func (st *Store) PutWebhookSecret(ctx context.Context, tenantID, provider string, secret tenant.Secret) error {
	old, found, err := st.getSealed(ctx, tenantID, "SECRET#"+provider)
	if err != nil {
		return err
	}
	if found && old != string(secret) {
		if err := st.putSealed(ctx, tenantID, "SECRET#"+provider+"#previous", old); err != nil {
			return err
		}
	}
	return st.putSealed(ctx, tenantID, "SECRET#"+provider, string(secret))
}

// WebhookSecret returns a tenant's current signing secret for a provider.
func (st *Store) WebhookSecret(ctx context.Context, tenantID, provider string) (tenant.Secret, bool, error) {
	v, found, err := st.getSealed(ctx, tenantID, "SECRET#"+provider)
	return tenant.Secret(v), found, err
}

// WebhookSecrets returns the current signing secret and the previous one
// (after a rotation), in that order.
func (st *Store) WebhookSecrets(ctx context.Context, tenantID, provider string) ([]tenant.Secret, error) {
	var out []tenant.Secret
	for _, sk := range []string{"SECRET#" + provider, "SECRET#" + provider + "#previous"} {
		v, found, err := st.getSealed(ctx, tenantID, sk)
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, tenant.Secret(v))
		}
	}
	return out, nil
}

// PutWebhookSettings stores a tenant's settings for a provider (its
// mapping, with any API token), sealed.
func (st *Store) PutWebhookSettings(ctx context.Context, tenantID, provider string, settings []byte) error {
	return st.putSealed(ctx, tenantID, "HOOK#"+provider, string(settings))
}

// WebhookSettings returns a tenant's settings for a provider.
func (st *Store) WebhookSettings(ctx context.Context, tenantID, provider string) ([]byte, bool, error) {
	v, found, err := st.getSealed(ctx, tenantID, "HOOK#"+provider)
	return []byte(v), found, err
}

func (st *Store) putSealed(ctx context.Context, tenantID, sk, plain string) error {
	if st.box == nil {
		return errors.New("no secret key is configured: cannot store secrets")
	}
	sealed, err := st.box.Seal(plain, tenantID+"/"+sk)
	if err != nil {
		return err
	}
	item := key("T#"+tenantID, sk)
	item["sealed"] = s(sealed)
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.table), Item: item}); err != nil {
		return fmt.Errorf("put %s: %w", sk, err)
	}
	return nil
}

func (st *Store) getSealed(ctx context.Context, tenantID, sk string) (string, bool, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(st.table), Key: key("T#"+tenantID, sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", false, fmt.Errorf("get %s: %w", sk, err)
	}
	if out.Item == nil {
		return "", false, nil
	}
	if st.box == nil {
		return "", false, errors.New("no secret key is configured: cannot read secrets")
	}
	plain, err := st.box.Open(str(out.Item, "sealed"), tenantID+"/"+sk)
	if err != nil {
		return "", false, fmt.Errorf("open %s: %w", sk, err)
	}
	return plain, true, nil
}

// Config returns a tenant's KPI configuration, the defaults when it has
// none.
func (st *Store) Config(ctx context.Context, tenantID string) (kpi.Config, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(st.table), Key: key("T#"+tenantID, "CONFIG"), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return kpi.Config{}, fmt.Errorf("get config: %w", err)
	}
	cfg := kpi.DefaultConfig()
	if out.Item == nil {
		return cfg, nil
	}
	if err := json.Unmarshal([]byte(str(out.Item, "config")), &cfg); err != nil {
		return kpi.Config{}, fmt.Errorf("decode stored config: %w", err)
	}
	return cfg, nil
}

// PutConfig replaces a tenant's KPI configuration.
func (st *Store) PutConfig(ctx context.Context, tenantID string, cfg kpi.Config) error {
	b, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	item := key("T#"+tenantID, "CONFIG")
	item["config"] = s(string(b))
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.table), Item: item}); err != nil {
		return fmt.Errorf("put config: %w", err)
	}
	return nil
}
