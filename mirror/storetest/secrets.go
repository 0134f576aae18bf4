package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/lemlist-graphql/server/feed"
)

// RunSecrets is the contract suite of the stores that also keep the live
// feed's webhook secrets (feed.SecretBackend): mirror/sqlite and
// mirror/postgres run it, and redisx its own copy of the same checks.
// newBackend returns a new, empty backend.
func RunSecrets(t *testing.T, newBackend func(t *testing.T) feed.SecretBackend) {
	t.Run("WebhookSecrets", func(t *testing.T) {
		t.Parallel()
		CheckSecrets(t, newBackend(t))
	})
}

// CheckSecrets checks one empty feed.SecretBackend: absence, the first
// candidate winning (concurrent ones included), tenants kept apart, and
// deletion.
func CheckSecrets(t *testing.T, b feed.SecretBackend) {
	t.Helper()
	ctx := t.Context()
	if v, ok, err := b.WebhookSecret(ctx, "t1"); ok || err != nil || v != "" {
		t.Fatalf("empty backend: %q, %v, %v", v, ok, err)
	}
	if v, err := b.EnsureWebhookSecret(ctx, "t1", "first"); v != "first" || err != nil {
		t.Fatalf("Ensure: %q, %v", v, err)
	}
	if v, err := b.EnsureWebhookSecret(ctx, "t1", "second"); v != "first" || err != nil {
		t.Fatalf("Ensure again: %q, %v (the first must stay)", v, err)
	}
	if v, ok, err := b.WebhookSecret(ctx, "t1"); v != "first" || !ok || err != nil {
		t.Fatalf("WebhookSecret: %q, %v, %v", v, ok, err)
	}
	if _, ok, _ := b.WebhookSecret(ctx, "t2"); ok {
		t.Fatal("t2 has t1's secret")
	}
	// Concurrent registrations of one tenant agree on one value.
	got := make([]string, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			v, err := b.EnsureWebhookSecret(ctx, "t3", fmt.Sprint("candidate-", i))
			if err != nil {
				t.Errorf("concurrent Ensure: %v", err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for _, v := range got[1:] {
		if v != got[0] {
			t.Fatalf("concurrent Ensure disagreed: %q", got)
		}
	}
	if err := b.DeleteWebhookSecret(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.WebhookSecret(ctx, "t1"); ok {
		t.Fatal("Delete kept the secret")
	}
	if err := b.DeleteWebhookSecret(ctx, "t1"); err != nil {
		t.Fatalf("deleting an absent secret: %v", err)
	}
	if v, err := b.EnsureWebhookSecret(ctx, "t1", "third"); v != "third" || err != nil {
		t.Fatalf("Ensure after Delete: %q, %v", v, err)
	}
	if v, _, _ := b.WebhookSecret(ctx, "t3"); v != got[0] {
		t.Fatalf("t3 lost its secret: %q", v)
	}
}
