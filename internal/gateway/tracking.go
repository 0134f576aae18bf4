package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

// callState follows one call of the request's Upstream down to HTTP: the
// upstream transport reports the attempts made for it. Its context value
// survives the cache, whose shared calls keep their first caller's values.
type callState struct {
	inFlight atomic.Int32 // HTTP exchanges in progress, body read included
	attempts atomic.Int32
	last429  atomic.Bool // the last answer was 429
}

type callStateKey struct{}

// UpstreamTransport returns base counting each HTTP request to lemlist for
// the GraphQL request and the call it was made for, found in its context:
// the server's upstream HTTP client must use it, for the log line's
// upstream_calls and for tracked, which tells a call that was waiting for
// the rate limiter from one whose exchange was slow by it.
func UpstreamTransport(base http.RoundTripper) http.RoundTripper {
	return countingTransport{base: base}
}

// countingTransport is UpstreamTransport's.
type countingTransport struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	if ri := infoFrom(ctx); ri != nil {
		ri.upstreamCalls.Add(1)
	}
	cs, _ := ctx.Value(callStateKey{}).(*callState)
	if cs == nil {
		resp, err := t.base.RoundTrip(r)
		if err == nil {
			observeKey(ctx, resp.StatusCode)
		}
		return resp, err
	}
	cs.attempts.Add(1)
	cs.inFlight.Add(1)
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		cs.inFlight.Add(-1)
		cs.last429.Store(false)
		return nil, err
	}
	cs.last429.Store(resp.StatusCode == http.StatusTooManyRequests)
	observeKey(ctx, resp.StatusCode) // lemlist's verdict on a pass-through key
	resp.Body = &doneBody{ReadCloser: resp.Body, done: func() { cs.inFlight.Add(-1) }}
	return resp, nil
}

// doneBody calls done once, when the body is closed.
type doneBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

// Close closes the body and calls done the first time.
func (b *doneBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}

// tracked is a request's view of its tenant's Upstream. A call that its
// request's deadline interrupts while no HTTP exchange was in progress for
// it (as countingTransport, which UpstreamTransport returns, sees them),
// and none had been answered other than 429, was waiting for a rate limit
// slot (the per-key limiter, or lemlist's Retry-After): it fails
// with a *lemlist.RateLimitError, which the error presenter maps to
// RATE_LIMITED, rather than with the bare deadline. (The limiter itself
// fails at once when it knows the slot comes after the deadline.)
type tracked struct{ up upstream.Upstream }

func (t tracked) ListActivities(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	return track(ctx, "activities", func(ctx context.Context) ([]*lemlist.Activity, error) { return t.up.ListActivities(ctx, o) })
}

func (t tracked) GetLead(ctx context.Context, id string) (*lemlist.Lead, error) {
	return track(ctx, "leads", func(ctx context.Context) (*lemlist.Lead, error) { return t.up.GetLead(ctx, id) })
}

func (t tracked) GetContacts(ctx context.Context, ids []string) ([]*lemlist.Contact, error) {
	return track(ctx, "contacts", func(ctx context.Context) ([]*lemlist.Contact, error) { return t.up.GetContacts(ctx, ids) })
}

func (t tracked) GetCampaign(ctx context.Context, id string) (*lemlist.Campaign, error) {
	return track(ctx, "campaigns/{id}", func(ctx context.Context) (*lemlist.Campaign, error) { return t.up.GetCampaign(ctx, id) })
}

func (t tracked) GetTeam(ctx context.Context) (*lemlist.Team, error) {
	return track(ctx, "team", func(ctx context.Context) (*lemlist.Team, error) { return t.up.GetTeam(ctx) })
}

func track[T any](ctx context.Context, endpoint string, call func(context.Context) (T, error)) (T, error) {
	cs := &callState{}
	v, err := call(context.WithValue(ctx, callStateKey{}, cs))
	if err != nil && errors.Is(err, context.DeadlineExceeded) && errors.Is(ctx.Err(), context.DeadlineExceeded) &&
		cs.inFlight.Load() == 0 && (cs.attempts.Load() == 0 || cs.last429.Load()) {
		err = &lemlist.RateLimitError{Endpoint: endpoint}
	}
	if err != nil && !lemlist.IsNotFound(err) {
		if ri := infoFrom(ctx); ri != nil {
			ri.noteUpstreamError(err)
		}
	}
	return v, err
}
