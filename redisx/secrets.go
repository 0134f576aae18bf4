package redisx

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The live feed's webhook secrets in pass-through mode: *Redis is a
// feed.SecretBackend, so that replicas sharing a Redis share their
// tenants' secrets. Each is a plain string (sealed by feed.SealedSecrets
// before it gets here) under "lgql:webhook-secret:<tenant>", or
// "lgql:<namespace>:webhook-secret:<tenant>" with Options.Namespace,
// without expiry.
//
// Unlike the cache's entries these cannot be fetched again: an evicted
// secret makes its tenant's hooks answer 403 until the tenant registers
// again. A Redis that holds them must not evict keys without a TTL: use
// maxmemory-policy noeviction or volatile-lru (every cache entry has a
// TTL, so volatile-lru still evicts them), not allkeys-lru.

// secretKey returns the key of tenant's webhook secret: the feed's prefix
// ("lgql:[<namespace>:]feed:") with webhook-secret for feed.
func (r *Redis) secretKey(tenant string) string {
	return strings.TrimSuffix(r.feedPrefix, "feed:") + "webhook-secret:" + tenant
}

// ensureSecret sets KEYS[1] to ARGV[1] unless it is set, and returns its
// value: SET NX GET, which Redis before 7 lacks.
var ensureSecret = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]`)

// WebhookSecret returns the tenant's stored webhook secret; ok is false
// without one. While Redis is down it fails at once with ErrUnavailable
// (the webhook then answers 503, and lemlist calls again).
func (r *Redis) WebhookSecret(ctx context.Context, tenant string) (string, bool, error) {
	if !r.Healthy() {
		return "", false, ErrUnavailable
	}
	ctx, cancel := r.opContext(ctx)
	defer cancel()
	v, err := r.rdb.Get(ctx, r.secretKey(tenant)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err := r.check(err); err != nil {
		return "", false, err
	}
	return v, true, nil
}

// EnsureWebhookSecret returns the tenant's webhook secret, storing
// candidate first when it has none, atomically (a script).
func (r *Redis) EnsureWebhookSecret(ctx context.Context, tenant, candidate string) (string, error) {
	if !r.Healthy() {
		return "", ErrUnavailable
	}
	ctx, cancel := r.opContext(ctx)
	defer cancel()
	v, err := ensureSecret.Run(ctx, r.rdb, []string{r.secretKey(tenant)}, candidate).Text()
	if err := r.check(err); err != nil {
		return "", err
	}
	return v, nil
}

// DeleteWebhookSecret removes the tenant's webhook secret, if any.
func (r *Redis) DeleteWebhookSecret(ctx context.Context, tenant string) error {
	if !r.Healthy() {
		return ErrUnavailable
	}
	ctx, cancel := r.opContext(ctx)
	defer cancel()
	return r.check(r.rdb.Del(ctx, r.secretKey(tenant)).Err())
}
