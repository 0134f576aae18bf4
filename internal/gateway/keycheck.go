package gateway

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"
	"golang.org/x/sync/singleflight"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/internal/lru"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

// Pass-through keys are checked with lemlist before they are served: a
// key lemlist rejects gets no answer, cached or live. Without the check, a
// key that a team revoked (rotating a leaked one) would still read the
// response cache, the upstream cache and the stats cache until they
// expire, and a subscription would open and stay open for any string.
//
// Every operation of a pass-through tenant asks keyVerdicts first (the
// tenantScope of operation.go, before the response cache). Its verdict on
// the key, accepted or rejected, is kept for its TTL (KeyVerdictTTL, at
// most CACHE_TTL: a revoked key stops getting cached answers within
// CACHE_TTL); a stale or missing one costs one cheap call (GET /team,
// uncached), shared by concurrent operations of the key. Any answer
// lemlist gives the key meanwhile renews the verdict for free: a 2xx
// accepts it, a 401 rejects it, whether to an operation's call
// (countingTransport) or to a live feed poller's (verdictUpstream). Other
// failures of the check (rate limit, lemlist down) give no verdict: the
// operation fails with their error, so that nothing is served to a key
// nobody could check.

// DefaultKeyVerdictTTL is how long lemlist's verdict on a pass-through key
// is trusted when Options.KeyVerdictTTL is 0.
const DefaultKeyVerdictTTL = 30 * time.Second

// maxKeyVerdicts bounds the keys whose verdict is kept (least recently
// used first out): junk keys cannot grow it.
const maxKeyVerdicts = 10_000

// keyCheckCaller is the rate limiter's caller key of the checks.
const keyCheckCaller = "key-check"

// errKeyRejected answers an operation whose key lemlist rejected (a new
// error each time: gqlgen sets an error's path).
func errKeyRejected() error {
	return &gqlerror.Error{
		Message:    "lemlist rejected this API key (401): it is unknown or was revoked",
		Extensions: map[string]any{"code": graph.CodeUnauthenticated},
	}
}

// keyVerdicts keeps lemlist's verdict on pass-through keys, by tenant id
// (upstream.TenantID: a hash, never the key). It is safe for concurrent
// use; a nil *keyVerdicts checks nothing.
type keyVerdicts struct {
	timeout time.Duration // of a check call
	// verdicts holds true for an accepted key, false for a rejected one,
	// each for the TTL from when it was given.
	verdicts *lru.Cache[string, bool]

	flights singleflight.Group
	checks  atomic.Uint64 // calls made
}

// newKeyVerdicts keeps verdicts for ttl by the clock now (nil: time.Now);
// a check call may take timeout.
func newKeyVerdicts(ttl, timeout time.Duration, now func() time.Time) *keyVerdicts {
	return &keyVerdicts{
		timeout:  timeout,
		verdicts: lru.New(lru.Options[string, bool]{MaxEntries: maxKeyVerdicts, TTL: ttl, Now: now}),
	}
}

// check returns nil when lemlist accepts t's key, by a verdict younger
// than the TTL or by a call made now; errKeyRejected when it rejects it;
// the call's error when there is no verdict. Tenants of other modes than
// pass-through are not checked.
func (v *keyVerdicts) check(ctx context.Context, t *Tenant) error {
	if v == nil || !t.verify {
		return nil
	}
	if accepted, known := v.get(t.ID); known {
		return rejection(accepted)
	}
	_, err, _ := v.flights.Do(t.ID, func() (any, error) {
		if accepted, known := v.get(t.ID); known { // a flight just ended
			return nil, rejection(accepted)
		}
		// The check outlives an operation that gives up, for the others
		// sharing it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.timeout)
		defer cancel()
		v.checks.Add(1)
		_, err := t.Upstream.GetTeam(upstream.NoCache(lemlist.WithCaller(cctx, keyCheckCaller)))
		switch {
		case err == nil:
			v.note(t.ID, true)
		case isUnauthorized(err):
			v.note(t.ID, false)
			return nil, errKeyRejected()
		}
		return nil, err
	})
	return err
}

func rejection(accepted bool) error {
	if accepted {
		return nil
	}
	return errKeyRejected()
}

// get returns the verdict on tenant, if one younger than the TTL is kept.
func (v *keyVerdicts) get(tenant string) (accepted, known bool) {
	return v.verdicts.Get(tenant)
}

// note keeps a verdict on tenant's key, given now.
func (v *keyVerdicts) note(tenant string, accepted bool) {
	if v == nil {
		return
	}
	v.verdicts.Add(tenant, accepted)
}

// observe notes the verdict an answer of lemlist to tenant's key gives:
// a 2xx accepts the key, a 401 rejects it, other statuses say nothing.
func (v *keyVerdicts) observe(tenant string, status int) {
	switch {
	case status >= 200 && status < 300:
		v.note(tenant, true)
	case status == http.StatusUnauthorized:
		v.note(tenant, false)
	}
}

func isUnauthorized(err error) bool {
	e, ok := errors.AsType[*lemlist.ErrorResponse](err)
	return ok && e.StatusCode == http.StatusUnauthorized
}

// keyNote is an operation's tenant and verdicts, for countingTransport to
// renew the verdict from the answers lemlist gives the operation's calls.
type keyNote struct {
	v      *keyVerdicts
	tenant string
}

type keyNoteKey struct{}

func withKeyNote(ctx context.Context, v *keyVerdicts, t *Tenant) context.Context {
	if v == nil || !t.verify {
		return ctx
	}
	return context.WithValue(ctx, keyNoteKey{}, keyNote{v: v, tenant: t.ID})
}

// observeKey renews the verdict on the key of ctx's operation, if it has
// one, from an answer's status.
func observeKey(ctx context.Context, status int) {
	if n, ok := ctx.Value(keyNoteKey{}).(keyNote); ok {
		n.v.observe(n.tenant, status)
	}
}

// verdictUpstream is a pass-through tenant's upstream as its live feed
// pollers see it: their answers renew the key's verdict, so that a key
// whose poll got 401 is refused at the next subscribe.
type verdictUpstream struct {
	upstream.Upstream
	v      *keyVerdicts
	tenant string
}

// ListActivities implements upstream.Upstream.
func (u verdictUpstream) ListActivities(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	rows, err := u.Upstream.ListActivities(ctx, o)
	switch {
	case err == nil:
		u.v.note(u.tenant, true)
	case isUnauthorized(err):
		u.v.note(u.tenant, false)
	}
	return rows, err
}
