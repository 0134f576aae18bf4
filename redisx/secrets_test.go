package redisx

import (
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/lemlist-graphql/server/mirror/storetest"
	"github.com/lemlist-graphql/server/redisx/redistest"
)

// Issue 13, item 7: Redis keeps the pass-through tenants' webhook secrets
// for the replicas that share it, per namespace.
func TestWebhookSecrets(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	storetest.CheckSecrets(t, newReplicaOpts(t, srv, "contract", "").Redis)

	a, b := newReplicaOpts(t, srv, "prod", ""), newReplicaOpts(t, srv, "prod", "")
	other, none := newReplicaOpts(t, srv, "staging", ""), newReplica(t, srv)
	ctx := t.Context()
	if _, err := a.EnsureWebhookSecret(ctx, "t1", "sealed-prod"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := b.WebhookSecret(ctx, "t1"); v != "sealed-prod" || !ok || err != nil {
		t.Fatalf("another replica of the deployment: %q, %v, %v", v, ok, err)
	}
	for _, r := range []replica{other, none} {
		if v, ok, err := r.WebhookSecret(ctx, "t1"); ok || err != nil {
			t.Fatalf("another deployment read %q, %v", v, err)
		}
	}
	if v, err := other.EnsureWebhookSecret(ctx, "t1", "sealed-staging"); v != "sealed-staging" || err != nil {
		t.Fatalf("another deployment's own: %q, %v", v, err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	if got := rdb.Get(ctx, "lgql:prod:webhook-secret:t1").Val(); got != "sealed-prod" {
		t.Fatalf("key lgql:prod:webhook-secret:t1 holds %q", got)
	}
	if ttl := rdb.TTL(ctx, "lgql:prod:webhook-secret:t1").Val(); ttl >= 0 {
		t.Fatalf("the secret expires (TTL %v)", ttl)
	}
	// Redis down: ErrUnavailable, at once, so the webhook answers 503.
	srv.Kill()
	if _, _, err := a.WebhookSecret(ctx, "t1"); err == nil {
		t.Fatal("no error with Redis down")
	}
	if _, _, err := a.WebhookSecret(ctx, "t1"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("known down: %v", err)
	}
}
