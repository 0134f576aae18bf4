package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// The live feed's webhook secrets (migration 0002): the store is also a
// feed.SecretBackend, so that a pass-through server with a mirror keeps
// them without other state. mirror.Store does not include these methods.

const (
	qGetSecret    = `SELECT secret FROM webhook_secrets WHERE tenant = ?`
	qEnsureSecret = `INSERT INTO webhook_secrets (tenant, secret, created_ms) VALUES (?, ?, ?)
ON CONFLICT (tenant) DO UPDATE SET secret = secret
RETURNING secret`
	qDeleteSecret = `DELETE FROM webhook_secrets WHERE tenant = ?`
)

// WebhookSecret returns the tenant's stored webhook secret (as stored:
// feed.SealedSecrets seals it); ok is false without one.
func (s *Store) WebhookSecret(ctx context.Context, tenant string) (string, bool, error) {
	var v string
	err := s.db.QueryRowContext(ctx, qGetSecret, tenant).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return v, true, nil
}

// EnsureWebhookSecret returns the tenant's webhook secret, storing
// candidate first when it has none, in one statement.
func (s *Store) EnsureWebhookSecret(ctx context.Context, tenant, candidate string) (string, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var v string
	err := s.db.QueryRowContext(ctx, qEnsureSecret, tenant, candidate, time.Now().UnixMilli()).Scan(&v)
	return v, err
}

// DeleteWebhookSecret removes the tenant's webhook secret, if any.
func (s *Store) DeleteWebhookSecret(ctx context.Context, tenant string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_, err := s.db.ExecContext(ctx, qDeleteSecret, tenant)
	return err
}
