// Package feed is the live feed of activities behind the GraphQL
// subscription activityAdded.
//
// A Hub fans activities out to subscriptions, each with its tenant and its
// filter. Activities come from two sources:
//
//   - Pollers. One poller runs per tenant and upstream filter (the part of a
//     Filter lemlist applies: type, campaign, lead, isFirst, dates), shared
//     by every subscription with that pair and reference-counted: it starts
//     with the first subscription and stops when the last one ends. Its
//     first poll only sets a baseline (the newest createdAt), so history is
//     never replayed; each later poll asks lemlist for the activities
//     created since Options.Lookback before the newest createdAt it saw
//     (minDate is inclusive), so that a late arrival (an activity lemlist
//     lists only after newer ones) is still delivered, and drops the ids it
//     delivered already. It pages through them by offset, within a window
//     whose maxDate the first page fixes, and reads every page: when more
//     than Options.MaxPages arrived, it goes on at the next tick from where
//     it stopped, and delivers them all, oldest first, once read. A
//     Checkpoint keeps each poller's position: after a restart, a poller
//     resumes from it (when saved within Options.ResumeWithin), so what
//     arrived while the server was down is delivered once; a poller
//     stopped because its last subscription ended forgets it. Calls go
//     through the tenant's Upstream (its rate limiter) under a caller key
//     of their own (lemlist.WithCaller), so polling takes a fair share of
//     the budget rather than starving queries, and bypass the cache
//     (upstream.NoCache).
//     After a failure, rate limiting included, the poller backs off.
//
//   - Webhooks. Hub.Webhook is the http.Handler lemlist's webhooks call
//     (POST /api/hooks registers them); it checks the secret lemlist echoes
//     in the body, strips it, drops an activity _id it handled within its
//     replay window, and publishes the activity at once to the tenant's
//     subscriptions whose filter matches (or hands it to
//     WebhookOptions.Ingest, a mirror that publishes it if it is new),
//     then relays it to the other
//     replicas (a relay failure answers 503, so that lemlist retries). In
//     pass-through mode each tenant's secret is a random one in a
//     SecretStore, which a Registrar makes when it registers the tenant's
//     hook with only the tenant's lemlist key.
//
// An activity reaches each subscription at most once: each subscription
// keeps a bounded set of the ids it was sent (Options.RecentIDs, by default
// two polls' worth), so an activity that arrives by webhook and then by
// poll (or twice by webhook) is delivered once.
//
// Backpressure: each subscription has a queue bounded by Options.Buffer
// activities (1000 by default: a poll's burst, up to MaxPages×100, must
// fit), which grows only as needed. The fan-out never blocks: when an
// activity comes for a subscription whose queue is full, the subscription
// is dropped: what it queued is released and Next returns ErrTooSlow.
// Dropping, rather than discarding the oldest activities, means a client
// never silently misses an activity: it learns that it fell behind, and can
// resubscribe and catch up with the activities query (minDate = the last
// createdAt it got).
//
// The package depends on the standard library, lemlist, upstream and
// activityfilter (for its Filter and InputError) only.
package feed

import (
	"errors"
	"time"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

// Defaults of Options.
const (
	DefaultPollInterval     = 5 * time.Second
	DefaultMaxBackoff       = time.Minute
	DefaultPollTimeout      = 30 * time.Second
	DefaultMaxPages         = 10
	DefaultLookback         = 30 * time.Second
	DefaultResumeWithin     = 10 * time.Minute
	DefaultBuffer           = 1000
	DefaultMaxSubscriptions = 10_000
	// DefaultMaxSubscriptionsPerTenant is a tenth of
	// DefaultMaxSubscriptions: ten tenants at their cap are needed to fill
	// the hub.
	DefaultMaxSubscriptionsPerTenant = 1_000
	// DefaultMaxSubscriptionsPerConnection is a suggested bound for
	// NewConnectionLimit: a page rarely needs more than a few live feeds.
	DefaultMaxSubscriptionsPerConnection = 100
	DefaultMaxPollersPerTenant           = 16
	DefaultCaller                        = "feed-poller"
)

// Errors of subscriptions.
var (
	// ErrTooSlow ends a subscription whose queue was full when an activity
	// came for it.
	ErrTooSlow = errors.New("subscriber too slow: it fell behind the live feed and was dropped; resubscribe, and catch up with the activities query")
	// ErrEnded is what Next returns once a subscription was closed or its
	// ctx ended, and its queue is drained.
	ErrEnded = errors.New("subscription ended")
	// ErrClosed ends the subscriptions of a closed Hub, and refuses new ones.
	ErrClosed = errors.New("live feed closed: the server is shutting down")
	// ErrTooManySubscriptions refuses a subscription beyond
	// Options.MaxSubscriptions.
	ErrTooManySubscriptions = errors.New("too many live subscriptions on this server")
	// ErrTooManyTenantSubscriptions refuses a subscription beyond
	// Options.MaxSubscriptionsPerTenant.
	ErrTooManyTenantSubscriptions = errors.New("too many live subscriptions for this lemlist team")
	// ErrTooManyOnConnection refuses a subscription beyond the
	// ConnectionLimit its context carries.
	ErrTooManyOnConnection = errors.New("too many live subscriptions on this connection")
	// ErrTooManyFilters refuses a subscription that would need a poller
	// beyond Options.MaxPollersPerTenant.
	ErrTooManyFilters = errors.New("too many distinct live subscription filters for this lemlist team: reuse a filter, or narrow on the client")
)

// Tenant is who a subscription runs as.
type Tenant struct {
	// ID identifies the tenant: upstream.TenantID of its lemlist key in
	// pass-through mode, "" for the one tenant of server and demo modes.
	// Webhooks publish to it.
	ID string
	// Upstream is the tenant's upstream, which its pollers list activities
	// through. Nil means no polling for this subscription (webhooks only).
	Upstream upstream.Upstream
}

// Filter selects the activities of a subscription.
type Filter struct {
	// Filter is applied by lemlist to the poller's calls, and in-process to
	// webhook activities. Its dates bound createdAt, inclusive.
	activityfilter.Filter
	// Match, if set, is a further condition applied in-process to every
	// activity (e.g. a set of types, or a channel), which lemlist cannot
	// filter on. Subscriptions that differ only in Match share a poller.
	Match func(*lemlist.Activity) bool
}

// Matches reports whether a passes the filter.
func (f *Filter) Matches(a *lemlist.Activity) bool {
	return matches(&f.Filter, a) && (f.Match == nil || f.Match(a))
}

// matches applies an activityfilter.Filter in-process, as lemlist would:
// exact type, campaign and lead; isFirst=false also matches activities
// without the flag; dates at lemlist's millisecond precision, inclusive.
func matches(f *activityfilter.Filter, a *lemlist.Activity) bool {
	switch {
	case f.Type != "" && a.Type != f.Type,
		f.CampaignID != "" && campaignOf(a) != f.CampaignID,
		f.LeadID != "" && leadOf(a) != f.LeadID:
		return false
	}
	if f.IsFirst != nil && (a.IsFirst != nil && *a.IsFirst) != *f.IsFirst {
		return false
	}
	at := a.CreatedAt.Truncate(time.Millisecond)
	if !f.MinDate.IsZero() && at.Before(f.MinDate.Truncate(time.Millisecond)) {
		return false
	}
	if !f.MaxDate.IsZero() && at.After(f.MaxDate.Truncate(time.Millisecond)) {
		return false
	}
	return true
}

func campaignOf(a *lemlist.Activity) string {
	if a.CampaignID == "" && a.MetaData != nil {
		return a.MetaData.CampaignID
	}
	return a.CampaignID
}

func leadOf(a *lemlist.Activity) string {
	switch {
	case a.LeadID != "":
		return a.LeadID
	case a.Lead != nil && a.Lead.ID != "":
		return a.Lead.ID
	case a.MetaData != nil:
		return a.MetaData.LeadID
	}
	return ""
}

// pollKey identifies what a poller asks lemlist: the query string its
// filter encodes to, so that filters sending the same request share one.
// It fails for a filter lemlist would refuse.
func pollKey(f activityfilter.Filter) (string, error) {
	q, err := f.Options(time.Time{}, 0, 0).Values()
	if err != nil {
		return "", err
	}
	return q.Encode(), nil
}
