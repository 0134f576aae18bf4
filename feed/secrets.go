package feed

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"sync"
)

// ErrNoSecret is SecretStore.Secret's error for a tenant without a secret.
var ErrNoSecret = errors.New("feed: no webhook secret for this tenant")

// SecretStore keeps each tenant's webhook secret in pass-through mode: a
// random secret the server made when it registered the tenant's first
// hook (Registrar), which lemlist echoes in every call of the tenant's
// hooks. Nobody else needs it: registering takes only the tenant's lemlist
// key, and no secret is valid for two tenants, so no one secret lets its
// holder forge activities into every tenant's feed (as
// TenantSecret(WEBHOOK_SECRET, tenant) does). Implementations must be safe
// for concurrent use; whoever reads the store can forge into its tenants,
// so a persistent one deserves the protection of WEBHOOK_SECRET itself.
type SecretStore interface {
	// Secret returns tenant's secret, or ErrNoSecret.
	Secret(ctx context.Context, tenant string) (string, error)
	// Ensure returns tenant's secret, storing candidate as it first if
	// the tenant has none, so that concurrent registrations agree on one.
	Ensure(ctx context.Context, tenant, candidate string) (string, error)
	// Delete forgets tenant's secret: the calls of its hooks are refused
	// from then on (delete them at lemlist, and register again).
	Delete(ctx context.Context, tenant string) error
}

// NewSecret returns a new random webhook secret: 32 bytes from
// crypto/rand, base64url without padding (43 characters).
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// MemorySecrets is a SecretStore in memory, for tests and single-process
// deployments: its secrets die with the process, and the hooks registered
// with them are then refused until registered again.
type MemorySecrets struct {
	mu sync.Mutex
	m  map[string]string
}

// NewMemorySecrets returns an empty MemorySecrets.
func NewMemorySecrets() *MemorySecrets { return &MemorySecrets{m: map[string]string{}} }

// Secret implements SecretStore.
func (s *MemorySecrets) Secret(_ context.Context, tenant string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[tenant]
	if !ok {
		return "", ErrNoSecret
	}
	return v, nil
}

// Ensure implements SecretStore.
func (s *MemorySecrets) Ensure(_ context.Context, tenant, candidate string) (string, error) {
	if candidate == "" {
		return "", errors.New("feed: an empty webhook secret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[tenant]; ok {
		return v, nil
	}
	s.m[tenant] = candidate
	return candidate, nil
}

// Delete implements SecretStore.
func (s *MemorySecrets) Delete(_ context.Context, tenant string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, tenant)
	return nil
}
