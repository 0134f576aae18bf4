package main

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

// requestInfo is one HTTP request's bookkeeping, for its log line and its
// metrics. The middleware creates it; the authenticator, the GraphQL
// interceptors and the upstream transport fill it in.
type requestInfo struct {
	id     string // the request id, echoed in X-Request-Id
	caller string // the rate limiter's caller key: distinct per request
	tenant string // upstream.TenantID in pass-through mode, else ""

	// upstreamCalls counts the HTTP requests sent to lemlist on this
	// request's behalf, retries included; an upstream call shared by
	// several requests (the cache's coalescing) counts for the request
	// that made it.
	upstreamCalls atomic.Int64

	mu             sync.Mutex
	operation      string // the operation name, "" if anonymous or unknown
	outcome        string // "ok" or the first error's code; "" if not set
	upstreamErrors int    // failed upstream calls, not-found answers aside
	firstError     string // the first one's text (lemlist redacts the key)
}

// noteUpstreamError counts a failed call of the request's Upstream and
// keeps the first one's text for the log line.
func (ri *requestInfo) noteUpstreamError(err error) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	ri.upstreamErrors++
	if ri.firstError == "" {
		ri.firstError = err.Error()
	}
}

func (ri *requestInfo) errors() (n int, first string) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.upstreamErrors, ri.firstError
}

func (ri *requestInfo) setResult(operation, outcome string) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	ri.operation, ri.outcome = operation, outcome
}

func (ri *requestInfo) setOutcome(outcome string) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	ri.outcome = outcome
}

func (ri *requestInfo) result() (operation, outcome string) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.operation, ri.outcome
}

type requestInfoKey struct{}

func withInfo(ctx context.Context, ri *requestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

func infoFrom(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return ri
}

// callState follows one call of the request's Upstream down to HTTP: the
// upstream transport reports the attempts made for it. Its context value
// survives the cache, whose shared calls keep their first caller's values.
type callState struct {
	inFlight atomic.Int32 // HTTP exchanges in progress, body read included
	attempts atomic.Int32
	last429  atomic.Bool // the last answer was 429
}

type callStateKey struct{}

// countingTransport counts each HTTP request to lemlist for the GraphQL
// request and the call it was made for, found in its context.
type countingTransport struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	if ri := infoFrom(ctx); ri != nil {
		ri.upstreamCalls.Add(1)
	}
	cs, _ := ctx.Value(callStateKey{}).(*callState)
	if cs == nil {
		return t.base.RoundTrip(r)
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
// it, and none had been answered other than 429, was waiting for a rate
// limit slot (the per-key limiter, or lemlist's Retry-After): it fails
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
