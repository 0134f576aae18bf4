package feed

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/lemlist-graphql/server/upstream"
)

// memBackend is a SecretBackend in memory that shows what it stores.
type memBackend struct {
	mu sync.Mutex
	m  map[string]string
}

func (b *memBackend) WebhookSecret(_ context.Context, tenant string) (string, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[tenant]
	return v, ok, nil
}

func (b *memBackend) EnsureWebhookSecret(_ context.Context, tenant, candidate string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if v, ok := b.m[tenant]; ok {
		return v, nil
	}
	b.m[tenant] = candidate
	return candidate, nil
}

func (b *memBackend) DeleteWebhookSecret(_ context.Context, tenant string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, tenant)
	return nil
}

// Issue 13, item 7: a persistent store holds each tenant's secret sealed
// under a key derived from WEBHOOK_SECRET, bound to its tenant, so that
// reading the store alone does not let one forge a webhook call.
func TestSealedSecrets(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := &memBackend{m: map[string]string{}}
	s, err := SealedSecrets(b, "master-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	a, c := upstream.TenantID("key-a"), upstream.TenantID("key-c")
	if _, err := s.Secret(ctx, a); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("no secret yet: %v", err)
	}
	sec := NewSecret()
	got, err := s.Ensure(ctx, a, sec)
	if err != nil || got != sec {
		t.Fatalf("Ensure: %q, %v", got, err)
	}
	if again, _ := s.Ensure(ctx, a, NewSecret()); again != sec {
		t.Fatal("Ensure replaced the tenant's secret")
	}
	if read, err := s.Secret(ctx, a); err != nil || read != sec {
		t.Fatalf("Secret: %q, %v", read, err)
	}
	stored := b.m[a]
	if !strings.HasPrefix(stored, "v1.") || strings.Contains(stored, sec) {
		t.Fatalf("stored in the clear: %q", stored)
	}
	// A sealed value copied to another tenant does not open there.
	b.m[c] = stored
	if _, err := s.Secret(ctx, c); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("another tenant's sealed secret opened: %v", err)
	}
	// Another master (WEBHOOK_SECRET rotated): the old value counts as no
	// secret, and registering again replaces it.
	s2, _ := SealedSecrets(b, "another-master-9876543210")
	if _, err := s2.Secret(ctx, a); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("opened under another master: %v", err)
	}
	fresh := NewSecret()
	if got, err := s2.Ensure(ctx, a, fresh); err != nil || got != fresh {
		t.Fatalf("Ensure after rotation: %q, %v", got, err)
	}
	if err := s2.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.m[a]; ok {
		t.Fatal("Delete kept the value")
	}
	if _, err := SealedSecrets(b, ""); err == nil {
		t.Fatal("no master secret")
	}
}
