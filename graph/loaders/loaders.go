// Package loaders batches and de-duplicates the lookups behind nested
// fields (leads, contacts, campaigns, users) within one GraphQL request.
//
// Loaders are built per request by Middleware and reached with For(ctx).
// They sit on github.com/graph-gophers/dataloader/v7 with a short wait
// (1 ms) and batches as large as the upstream allows: contacts go 100 to a
// GET /contacts call; leads and campaigns, which have no batch endpoint,
// are de-duplicated and fetched with bounded concurrency through the
// client's shared rate limiter; users come from one GET /team call.
package loaders

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"
	"golang.org/x/sync/errgroup"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

// ErrNotFound is returned for an id lemlist does not know.
var ErrNotFound = errors.New("not found")

// Options tune the loaders.
type Options struct {
	// Wait is how long a loader collects keys before fetching; default 1 ms.
	Wait time.Duration
	// Concurrency bounds the parallel calls of a batch without a batch
	// endpoint (leads, campaigns); default 8.
	Concurrency int
	// OnBatch, if set, is told each batch's loader name and size.
	OnBatch func(loader string, size int)
	// Tenant names the tenant whose upstream the loaders read, for caches
	// of computed answers that outlive the request (graph.StatsCache): it
	// must differ between API keys, e.g. upstream.TenantID(key), and may be
	// any constant when the server has one key. Empty turns such caches off
	// for the request.
	Tenant string
}

// Loaders are one request's loaders, over one tenant's upstream.
type Loaders struct {
	// Upstream is the request's upstream, for root fields and connections.
	Upstream upstream.Upstream
	// Tenant is Options.Tenant.
	Tenant string

	opts Options // for Fresh

	lead     *dataloader.Loader[string, *lemlist.Lead]
	contact  *dataloader.Loader[string, *lemlist.Contact]
	campaign *dataloader.Loader[string, *lemlist.Campaign]

	teamOnce sync.Once
	users    map[string]*lemlist.User
	teamErr  error
}

// New returns fresh loaders over up. Build one set per request.
func New(up upstream.Upstream, o Options) *Loaders {
	if o.Wait <= 0 {
		o.Wait = time.Millisecond
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.OnBatch == nil {
		o.OnBatch = func(string, int) {}
	}
	l := &Loaders{Upstream: up, Tenant: o.Tenant, opts: o}
	l.lead = newLoader(o, "lead", func(ctx context.Context, ids []string) []*dataloader.Result[*lemlist.Lead] {
		return fanOut(ctx, ids, o.Concurrency, up.GetLead)
	})
	l.campaign = newLoader(o, "campaign", func(ctx context.Context, ids []string) []*dataloader.Result[*lemlist.Campaign] {
		return fanOut(ctx, ids, o.Concurrency, up.GetCampaign)
	})
	l.contact = newLoader(o, "contact", func(ctx context.Context, ids []string) []*dataloader.Result[*lemlist.Contact] {
		out := make([]*dataloader.Result[*lemlist.Contact], len(ids))
		cs, err := up.GetContacts(ctx, ids)
		byID := make(map[string]*lemlist.Contact, len(cs))
		for _, c := range cs {
			byID[c.ID] = c
		}
		for i, id := range ids {
			out[i] = result(byID[id], err)
		}
		return out
	})
	return l
}

func newLoader[V any](o Options, name string, fetch dataloader.BatchFunc[string, V]) *dataloader.Loader[string, V] {
	batch := func(ctx context.Context, keys []string) []*dataloader.Result[V] {
		o.OnBatch(name, len(keys))
		return fetch(ctx, keys)
	}
	return dataloader.NewBatchedLoader(batch,
		dataloader.WithWait[string, V](o.Wait),
		dataloader.WithBatchCapacity[string, V](lemlist.MaxContactsPerCall))
}

// fanOut fetches each key with get, at most limit at a time.
func fanOut[T any](ctx context.Context, ids []string, limit int, get func(context.Context, string) (*T, error)) []*dataloader.Result[*T] {
	out := make([]*dataloader.Result[*T], len(ids))
	var g errgroup.Group
	g.SetLimit(limit)
	for i, id := range ids {
		g.Go(func() error {
			v, err := get(ctx, id)
			out[i] = result(v, err)
			return nil
		})
	}
	_ = g.Wait()
	return out
}

// result wraps a fetch outcome. A nil value is ErrNotFound. Errors are not
// cached, so a later load in the same request may succeed.
func result[T any](v *T, err error) *dataloader.Result[*T] {
	switch {
	case err != nil && lemlist.IsNotFound(err):
		return &dataloader.Result[*T]{Error: ErrNotFound}
	case err != nil:
		return &dataloader.Result[*T]{Error: dataloader.NewSkipCacheError(err)}
	case v == nil:
		return &dataloader.Result[*T]{Error: ErrNotFound}
	}
	return &dataloader.Result[*T]{Data: v}
}

// Lead returns the lead with id, batched with the request's other leads.
func (l *Loaders) Lead(ctx context.Context, id string) (*lemlist.Lead, error) {
	return l.lead.Load(ctx, id)()
}

// Contact returns the contact with id; ids are fetched 100 per call.
func (l *Loaders) Contact(ctx context.Context, id string) (*lemlist.Contact, error) {
	return l.contact.Load(ctx, id)()
}

// Campaign returns the campaign with id.
func (l *Loaders) Campaign(ctx context.Context, id string) (*lemlist.Campaign, error) {
	return l.campaign.Load(ctx, id)()
}

// User returns the team member with id, from one GET /team per request.
func (l *Loaders) User(ctx context.Context, id string) (*lemlist.User, error) {
	l.teamOnce.Do(func() {
		team, err := l.Upstream.GetTeam(ctx)
		if err != nil {
			l.teamErr = err
			return
		}
		l.users = make(map[string]*lemlist.User, len(team.Users))
		for i := range team.Users {
			l.users[team.Users[i].ID] = &team.Users[i]
		}
	})
	if l.teamErr != nil {
		return nil, l.teamErr
	}
	if u := l.users[id]; u != nil {
		return u, nil
	}
	return nil, ErrNotFound
}

type ctxKey struct{}

// NewContext returns ctx carrying l.
func NewContext(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// FromContext returns ctx's loaders, if it has any.
func FromContext(ctx context.Context) (*Loaders, bool) {
	l, ok := ctx.Value(ctxKey{}).(*Loaders)
	return l, ok
}

// Fresh returns new loaders over the same upstream with the same options,
// with empty caches: a long-lived operation (a subscription) takes fresh
// ones for each event, so that its caches do not grow for its whole life.
func (l *Loaders) Fresh() *Loaders { return New(l.Upstream, l.opts) }

// For returns the request's loaders. It panics if Middleware did not run,
// which is a wiring bug.
func For(ctx context.Context) *Loaders {
	l, ok := ctx.Value(ctxKey{}).(*Loaders)
	if !ok {
		panic("loaders: no loaders in context; wrap the handler with loaders.Middleware")
	}
	return l
}

// Middleware builds fresh loaders for each request over the upstream that
// upstream returns for it (one per tenant in pass-through mode).
func Middleware(upstream func(*http.Request) upstream.Upstream, o Options, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), New(upstream(r), o))))
	})
}

// Preload fetches, before any field asks, the contacts, leads and
// campaigns a page of activities will need, and primes the loaders with
// them: contacts 100 per call, leads and campaigns one call each with
// bounded concurrency, all at once. Field resolvers then answer from the
// loaders' caches, so the number of upstream calls does not depend on how
// the resolvers are scheduled. Failures are left for the field resolvers
// to meet again and report with their paths.
func (l *Loaders) Preload(ctx context.Context, contactIDs, leadIDs, campaignIDs []string) {
	var g errgroup.Group
	g.SetLimit(l.opts.Concurrency)
	for chunk := range slices.Chunk(contactIDs, lemlist.MaxContactsPerCall) {
		g.Go(func() error {
			l.opts.OnBatch("contact", len(chunk))
			cs, err := l.Upstream.GetContacts(ctx, chunk)
			if err == nil {
				for _, c := range cs {
					l.contact.Prime(ctx, c.ID, c)
				}
			}
			return nil
		})
	}
	preload(ctx, &g, l.opts, "lead", leadIDs, l.Upstream.GetLead, l.lead)
	preload(ctx, &g, l.opts, "campaign", campaignIDs, l.Upstream.GetCampaign, l.campaign)
	_ = g.Wait()
}

func preload[T any](ctx context.Context, g *errgroup.Group, o Options, name string, ids []string, get func(context.Context, string) (*T, error), into *dataloader.Loader[string, *T]) {
	if len(ids) > 0 {
		o.OnBatch(name, len(ids))
	}
	for _, id := range ids {
		g.Go(func() error {
			if v, err := get(ctx, id); err == nil && v != nil {
				into.Prime(ctx, id, v)
			}
			return nil
		})
	}
}
