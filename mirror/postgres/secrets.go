package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// The live feed's webhook secrets (migration 0002): the store is also a
// feed.SecretBackend, so that pass-through replicas sharing the database
// share their tenants' secrets. mirror.Store does not include these
// methods.

const (
	qGetSecret    = `SELECT secret FROM webhook_secrets WHERE tenant = $1`
	qEnsureSecret = `INSERT INTO webhook_secrets AS w (tenant, secret) VALUES ($1, $2)
ON CONFLICT (tenant) DO UPDATE SET secret = w.secret
RETURNING secret`
	qDeleteSecret = `DELETE FROM webhook_secrets WHERE tenant = $1`
)

// WebhookSecret returns the tenant's stored webhook secret (as stored:
// feed.SealedSecrets seals it); ok is false without one.
func (s *Store) WebhookSecret(ctx context.Context, tenant string) (string, bool, error) {
	var v string
	err := s.pool.QueryRow(ctx, qGetSecret, tenant).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return v, true, nil
}

// EnsureWebhookSecret returns the tenant's webhook secret, storing
// candidate first when it has none, in one statement: of replicas
// registering the tenant together, every one gets the first's.
func (s *Store) EnsureWebhookSecret(ctx context.Context, tenant, candidate string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, qEnsureSecret, tenant, candidate).Scan(&v)
	return v, err
}

// DeleteWebhookSecret removes the tenant's webhook secret, if any.
func (s *Store) DeleteWebhookSecret(ctx context.Context, tenant string) error {
	_, err := s.pool.Exec(ctx, qDeleteSecret, tenant)
	return err
}
