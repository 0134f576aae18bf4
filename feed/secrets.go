package feed

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
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

// SecretBackend is a persistent map from a tenant to one opaque string: a
// store the deployment already has (the mirror's SQLite or PostgreSQL
// database, or Redis), which SealedSecrets turns into a SecretStore. Its
// methods take the same arguments as SecretStore's, but absence is ok ==
// false rather than an error, so that an implementation need not import
// this package. Implementations must be safe for concurrent use, and
// EnsureWebhookSecret must be atomic: of concurrent calls for one tenant,
// one stores its candidate and every one returns it.
type SecretBackend interface {
	// WebhookSecret returns the tenant's value; ok is false without one.
	WebhookSecret(ctx context.Context, tenant string) (value string, ok bool, err error)
	// EnsureWebhookSecret returns the tenant's value, storing candidate as
	// it first when the tenant has none.
	EnsureWebhookSecret(ctx context.Context, tenant, candidate string) (string, error)
	// DeleteWebhookSecret removes the tenant's value, if any.
	DeleteWebhookSecret(ctx context.Context, tenant string) error
}

// sealedPrefix starts every value SealedSecrets stores: the scheme's
// version.
const sealedPrefix = "v1."

// SealedSecrets returns a SecretStore over b that keeps each secret
// sealed: AES-256-GCM under a key derived from master (the server's
// WEBHOOK_SECRET) with HMAC-SHA256, a random nonce per secret, and the
// tenant id as additional data, so that a value copied to another tenant
// does not open. Whoever reads b alone (a database dump, a Redis replica)
// learns no secret and cannot forge a webhook call; whoever also holds
// master can. A value that does not open (sealed under another master:
// WEBHOOK_SECRET was rotated) counts as no secret, so the tenant's hooks
// are refused with 403 until the tenant registers again, which replaces
// it. master must not be empty.
func SealedSecrets(b SecretBackend, master string) (SecretStore, error) {
	if b == nil || master == "" {
		return nil, errors.New("feed: sealed secrets need a backend and a master secret")
	}
	m := hmac.New(sha256.New, []byte(master))
	m.Write([]byte("lemlist-graphql/feed.SealedSecrets/v1"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealedSecrets{b: b, aead: aead}, nil
}

type sealedSecrets struct {
	b    SecretBackend
	aead cipher.AEAD
}

// errUnsealable is a stored value that does not open under this master.
var errUnsealable = fmt.Errorf("%w: the stored secret was sealed under another WEBHOOK_SECRET", ErrNoSecret)

func (s *sealedSecrets) seal(tenant, secret string) string {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	_, _ = rand.Read(nonce)
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(secret), []byte(tenant)))
}

func (s *sealedSecrets) open(tenant, value string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(value, sealedPrefix))
	if err != nil || !strings.HasPrefix(value, sealedPrefix) || len(raw) < s.aead.NonceSize() {
		return "", errUnsealable
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(tenant))
	if err != nil {
		return "", errUnsealable
	}
	return string(plain), nil
}

// Secret implements SecretStore.
func (s *sealedSecrets) Secret(ctx context.Context, tenant string) (string, error) {
	v, ok, err := s.b.WebhookSecret(ctx, tenant)
	switch {
	case err != nil:
		return "", err
	case !ok:
		return "", ErrNoSecret
	}
	return s.open(tenant, v)
}

// Ensure implements SecretStore. A stored value that does not open is
// replaced by candidate.
func (s *sealedSecrets) Ensure(ctx context.Context, tenant, candidate string) (string, error) {
	if candidate == "" {
		return "", errors.New("feed: an empty webhook secret")
	}
	sealed := s.seal(tenant, candidate)
	for range 2 {
		v, err := s.b.EnsureWebhookSecret(ctx, tenant, sealed)
		if err != nil {
			return "", err
		}
		secret, err := s.open(tenant, v)
		if err == nil {
			return secret, nil
		}
		// Sealed under a former master: nobody can check it any more.
		if err := s.b.DeleteWebhookSecret(ctx, tenant); err != nil {
			return "", err
		}
	}
	return "", errUnsealable
}

// Delete implements SecretStore.
func (s *sealedSecrets) Delete(ctx context.Context, tenant string) error {
	return s.b.DeleteWebhookSecret(ctx, tenant)
}
