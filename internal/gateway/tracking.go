package gateway

import (
	"context"
	"net/http"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

// UpstreamTransport returns base counting each HTTP request to lemlist
// for the GraphQL request found in its context: the server's upstream HTTP
// client must use it, for the log line's upstream_calls, and so that
// lemlist's answers to a pass-through key renew the server's verdict on
// it (keycheck.go).
func UpstreamTransport(base http.RoundTripper) http.RoundTripper {
	return countingTransport{base: base}
}

// countingTransport is UpstreamTransport's.
type countingTransport struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if ri := infoFrom(r.Context()); ri != nil {
		ri.upstreamCalls.Add(1)
	}
	resp, err := t.base.RoundTrip(r)
	if err == nil {
		observeKey(r.Context(), resp.StatusCode) // lemlist's verdict on a pass-through key
	}
	return resp, err
}

// tracked is a request's view of its tenant's Upstream: it notes the
// calls that failed, for the request's log line. (A call whose deadline
// came while it waited for a rate limit slot already fails with a
// *lemlist.RateLimitError, from the limiter or the upstream cache: the
// component that knows it waited says so.)
type tracked struct{ up upstream.Upstream }

func (t tracked) ListActivities(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	rows, err := t.up.ListActivities(ctx, o)
	return rows, note(ctx, err)
}

func (t tracked) GetLead(ctx context.Context, id string) (*lemlist.Lead, error) {
	l, err := t.up.GetLead(ctx, id)
	return l, note(ctx, err)
}

func (t tracked) GetContacts(ctx context.Context, ids []string) ([]*lemlist.Contact, error) {
	cs, err := t.up.GetContacts(ctx, ids)
	return cs, note(ctx, err)
}

func (t tracked) GetCampaign(ctx context.Context, id string) (*lemlist.Campaign, error) {
	c, err := t.up.GetCampaign(ctx, id)
	return c, note(ctx, err)
}

func (t tracked) GetTeam(ctx context.Context) (*lemlist.Team, error) {
	tm, err := t.up.GetTeam(ctx)
	return tm, note(ctx, err)
}

// note records err, a failed call other than a not-found answer, on the
// request's info, and returns it.
func note(ctx context.Context, err error) error {
	if err != nil && !lemlist.IsNotFound(err) {
		if ri := infoFrom(ctx); ri != nil {
			ri.noteUpstreamError(err)
		}
	}
	return err
}
