package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"unsafe"

	"github.com/lemlist-graphql/server/lemlist"
)

// Cached returns up behind c, for the tenant tenant: answers are cached
// (see CacheOptions for what is kept how long) and identical concurrent
// calls make one upstream call.
//
// tenant partitions c: it must be distinct for each API key, and the same
// for every Upstream of one key; use TenantID(apiKey), never the key
// itself. Entries of one tenant are never served to another. It panics if
// tenant is empty. A nil c returns up unchanged.
//
// Values returned are shared with other callers and with the cache: they
// are read-only. (The GraphQL layer, graph and graph/model, only reads
// them.) Returned slices have no spare capacity, so appending to one copies
// it.
//
// Errors are not cached, with one exception: lemlist's 404 for a lead or a
// campaign, and a contact id missing from a GetContacts answer, are
// remembered for CacheOptions.NotFoundTTL. A remembered 404 is returned as
// a *lemlist.ErrorResponse without its Response.
//
// Each miss runs the upstream call detached from its caller's cancellation
// (the first caller may give up while others wait for the same answer),
// bounded by CacheOptions.CallTimeout; every caller stops waiting when its
// own ctx is done, and the call, if it succeeds, still fills the cache.
// A caller whose deadline passes while the call waits for a rate limit
// slot gets a *lemlist.RateLimitError matching lemlist.ErrRateLimitWait
// (see lemlist.SlotWait), as if it had waited in the limiter itself.
// Calls keep ctx's values (such as lemlist.WithCaller's).
//
// ListActivities is keyed by the query its options encode to
// (ActivityListOptions.Values), so options that send the same request share
// an entry; invalid options go to up uncached. GetContacts is cached per
// contact id: a call fetches only the ids not in the cache, and its
// result's order is unspecified. It must be given contact ids, as Upstream
// says, not emails: an id missing from lemlist's answer is remembered as
// absent.
func Cached(up Upstream, c *Cache, tenant string) Upstream {
	if c == nil {
		return up
	}
	if tenant == "" {
		panic("upstream: Cached with an empty tenant")
	}
	return &cached{up: up, c: c, tenant: tenant}
}

type noCacheKey struct{}

// NoCache returns a copy of ctx whose calls through a Cached upstream go
// straight to the wrapped upstream: the cache is neither read nor filled,
// and the calls are not coalesced with others. It is for callers that need
// lemlist's current answer, such as the live feed's poller, whose query
// repeats every few seconds and would otherwise be answered from the cache
// for a whole TTL.
func NoCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, noCacheKey{}, true)
}

// uncached reports whether a call in ctx bypasses the cache: NoCache, or
// lemlist.WithSummaries, whose partial activities must reach no one else.
func uncached(ctx context.Context) bool {
	v, _ := ctx.Value(noCacheKey{}).(bool)
	return v || lemlist.SummariesOnly(ctx)
}

type cached struct {
	up     Upstream
	c      *Cache
	tenant string
}

func (w *cached) ListActivities(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	if uncached(ctx) {
		return w.up.ListActivities(ctx, o)
	}
	q, err := o.Values()
	if err != nil {
		return w.up.ListActivities(ctx, o) // its error, without a request
	}
	k := key{w.tenant, kindActivities, canonicalQuery(q)}
	if e, ok := w.c.lookup(ctx, k); ok {
		return e.val.([]*lemlist.Activity), nil
	}
	// The call may outlive this caller, who may then reuse *o: take a copy.
	var oc *lemlist.ActivityListOptions
	if o != nil {
		cp := *o
		if o.IsFirst != nil {
			isFirst := *o.IsFirst
			cp.IsFirst = &isFirst
		}
		oc = &cp
	}
	return flight(ctx, w.c, k, settledAt[[]*lemlist.Activity](w.c, k), func(ctx context.Context) ([]*lemlist.Activity, error) {
		rows, err := w.up.ListActivities(ctx, oc)
		if err != nil {
			return nil, err
		}
		rows = slices.Clip(rows)
		w.c.keep(ctx, k, rows)
		return rows, nil
	})
}

func (w *cached) GetLead(ctx context.Context, id string) (*lemlist.Lead, error) {
	return getByID(ctx, w, kindLead, id, Upstream.GetLead)
}

func (w *cached) GetCampaign(ctx context.Context, id string) (*lemlist.Campaign, error) {
	return getByID(ctx, w, kindCampaign, id, Upstream.GetCampaign)
}

// getByID is a cached lookup of one object by id (GetLead, GetCampaign),
// made with get on the wrapped upstream: lemlist's 404 is remembered, and
// a nil answer is not kept.
func getByID[T any](ctx context.Context, w *cached, k kind, id string, get func(Upstream, context.Context, string) (*T, error)) (*T, error) {
	if uncached(ctx) {
		return get(w.up, ctx, id)
	}
	ck := key{w.tenant, k, id}
	if e, ok := w.c.lookup(ctx, ck); ok {
		v, _ := e.val.(*T) // nil for a remembered 404
		return v, e.err
	}
	return flight(ctx, w.c, ck, settledAt[*T](w.c, ck), func(ctx context.Context) (*T, error) {
		v, err := get(w.up, ctx, id)
		if err != nil {
			w.c.keepNotFound(ctx, ck, err)
			return nil, err
		}
		if v != nil {
			w.c.keep(ctx, ck, v)
		}
		return v, nil
	})
}

func (w *cached) GetTeam(ctx context.Context) (*lemlist.Team, error) {
	if uncached(ctx) {
		return w.up.GetTeam(ctx)
	}
	k := key{w.tenant, kindTeam, ""}
	if e, ok := w.c.lookup(ctx, k); ok {
		return e.val.(*lemlist.Team), nil
	}
	return flight(ctx, w.c, k, settledAt[*lemlist.Team](w.c, k), func(ctx context.Context) (*lemlist.Team, error) {
		t, err := w.up.GetTeam(ctx)
		if err != nil {
			return nil, err
		}
		if t != nil {
			w.c.keep(ctx, k, t)
		}
		return t, nil
	})
}

// GetContacts serves the ids it has from the cache, and fetches the others
// in one call (coalesced with identical concurrent fetches), caching each
// contact on its own and remembering the ids missing from the answer.
func (w *cached) GetContacts(ctx context.Context, ids []string) ([]*lemlist.Contact, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if uncached(ctx) {
		return w.up.GetContacts(ctx, ids)
	}
	// A sorted copy without duplicates: the order of a batch varies with
	// the order resolvers ran in, and the copy may outlive this call.
	missing := slices.Compact(slices.Sorted(slices.Values(ids)))
	var out []*lemlist.Contact
	if w.c.ttl[kindContacts] > 0 {
		ks := make([]key, len(missing))
		for i, id := range missing {
			ks[i] = key{w.tenant, kindContacts, id}
		}
		n := 0
		for i, e := range w.c.store.getMany(ctx, ks) {
			switch {
			case e == nil:
				missing[n] = missing[i]
				n++
			case e.val != nil:
				out = append(out, e.val.(*lemlist.Contact))
			}
		}
		missing = missing[:n]
		if len(missing) == 0 {
			w.c.obs.CacheHit(KindContacts)
			return slices.Clip(out), nil
		}
	}
	w.c.obs.CacheMiss(KindContacts)
	k := key{w.tenant, kindContacts, encodeIDs(missing)}
	settled := func() ([]*lemlist.Contact, error, bool) {
		cs, ok := w.c.settledContacts(w.tenant, missing)
		return cs, nil, ok
	}
	fetched, err := flight(ctx, w.c, k, settled, func(ctx context.Context) ([]*lemlist.Contact, error) {
		cs, err := w.up.GetContacts(ctx, missing)
		if err != nil {
			return nil, err
		}
		cs = slices.Clip(cs)
		w.c.keepContacts(ctx, w.tenant, missing, cs)
		return cs, nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return fetched, nil
	}
	return append(out, fetched...), nil
}

// lookup returns k's live entry, reporting a hit or a miss. Contacts, which
// are looked up per id but reported per call, do not come here.
func (c *Cache) lookup(ctx context.Context, k key) (*entry, bool) {
	if c.ttl[k.kind] > 0 {
		if e, ok := c.store.get(ctx, k); ok {
			c.obs.CacheHit(kindNames[k.kind])
			return e, true
		}
	}
	c.obs.CacheMiss(kindNames[k.kind])
	return nil, false
}

// keep caches v under k for its kind's TTL.
func (c *Cache) keep(ctx context.Context, k key, v any) {
	ttl := c.ttl[k.kind]
	if ttl <= 0 {
		return
	}
	e := &entry{val: v, expires: c.now().Add(ttl)}
	e.size = entrySize(k, e)
	c.store.put(ctx, k, e)
}

// keepNotFound remembers err under k for NotFoundTTL if it is lemlist's
// 404. The copy kept drops the HTTP response, and with it the request and
// its credentials.
func (c *Cache) keepNotFound(ctx context.Context, k key, err error) {
	if c.notFoundTTL <= 0 || c.ttl[k.kind] <= 0 || !lemlist.IsNotFound(err) {
		return
	}
	e, ok := errors.AsType[*lemlist.ErrorResponse](err)
	if !ok {
		return
	}
	nf := *e
	nf.Response = nil
	ne := &entry{err: &nf, expires: c.now().Add(c.notFoundTTL)}
	ne.size = entrySize(k, ne)
	c.store.put(ctx, k, ne)
}

// keepContacts caches each contact of cs under its id, and remembers the
// ids asked for but missing from cs.
func (c *Cache) keepContacts(ctx context.Context, tenant string, asked []string, cs []*lemlist.Contact) {
	ttl := c.ttl[kindContacts]
	if ttl <= 0 {
		return
	}
	now := c.now()
	found := make(map[string]bool, len(cs))
	ks := make([]key, 0, len(asked))
	es := make([]*entry, 0, len(asked))
	add := func(k key, e *entry) {
		e.size = entrySize(k, e)
		ks = append(ks, k)
		es = append(es, e)
	}
	for _, ct := range cs {
		if ct == nil {
			continue
		}
		found[ct.ID] = true
		add(key{tenant, kindContacts, ct.ID}, &entry{val: ct, expires: now.Add(ttl)})
	}
	if c.notFoundTTL > 0 {
		for _, id := range asked {
			if !found[id] {
				add(key{tenant, kindContacts, id}, &entry{expires: now.Add(c.notFoundTTL)})
			}
		}
	}
	c.store.putMany(ctx, ks, es)
}

// entrySize estimates the memory of e held under k: the entry itself, k's
// argument, and its value or error.
func entrySize(k key, e *entry) int64 {
	n := entryOverhead + int64(len(k.arg))
	switch v := e.val.(type) {
	case []*lemlist.Activity:
		n += activitiesSize(v)
	case *lemlist.Lead:
		n += objectSize(unsafe.Sizeof(*v), v.Raw, v)
	case *lemlist.Contact:
		n += objectSize(unsafe.Sizeof(*v), v.Raw, v)
		n += int64(cap(v.Campaigns)) * int64(unsafe.Sizeof(lemlist.ContactCampaign{}))
	case *lemlist.Campaign:
		n += objectSize(unsafe.Sizeof(*v), v.Raw, v)
	case *lemlist.Team:
		n += objectSize(unsafe.Sizeof(*v), v.Raw, v)
		n += int64(cap(v.Users))*int64(unsafe.Sizeof(lemlist.User{})) + int64(cap(v.UserIDs))*16
	}
	if nf, ok := e.err.(*lemlist.ErrorResponse); ok {
		n += int64(len(nf.Endpoint)+len(nf.Code)+len(nf.Message)) + int64(unsafe.Sizeof(*nf))
	}
	return n
}

// flight runs call once for all concurrent callers of k and returns its
// result, or an error as soon as ctx is done. call runs on a context that
// keeps ctx's values but not its cancellation, bounded by the cache's
// CallTimeout; it caches what it got before any caller sees it.
//
// A caller may miss the cache just before a flight for k keeps its answer,
// and reach the singleflight group just after that flight has left it: it
// then starts a flight of its own. So before calling, a new flight asks
// settled for what the cache already holds in memory (where call keeps it
// first), and answers with it when there is one: no caller misses both the
// flight and the cache, and the caller is reported as coalesced.
//
// A caller whose deadline passes while the call waits for a rate limit slot
// (lemlist.SlotWait: the client's Limiter, or a 429's Retry-After) gets a
// *lemlist.RateLimitError matching lemlist.ErrRateLimitWait, as it would
// from its own Limiter had it made the call; otherwise it gets ctx.Err().
// The call's Limiter does not see that deadline: the call runs for every
// caller, under CallTimeout.
//
// Background calls (lemlist.Background) share flights only with each
// other, so that a foreground caller never waits behind a background
// call's low priority.
func flight[T any](ctx context.Context, c *Cache, k key, settled func() (T, error, bool), call func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	name := k.String()
	if lemlist.IsBackground(ctx) {
		// A foreground caller joining a background call would wait at its
		// priority: background calls have flights of their own. (A key's
		// String starts with a digit: no foreground name starts so.)
		name = "bg:" + name
	}
	leader := false // set by the call, which runs only for the first caller
	ch := c.flights.DoChan(name, func() (v any, err error) {
		if v, err, ok := settled(); ok {
			return v, err // kept by a flight that just ended: leader stays false
		}
		leader = true
		sw := new(lemlist.SlotWait)
		c.waits.Store(name, sw)
		defer c.waits.CompareAndDelete(name, sw)
		fctx, cancel := context.WithTimeout(lemlist.WithSlotWait(context.WithoutCancel(ctx), sw), c.callTimeout)
		defer cancel()
		// A panic in DoChan's goroutine would kill the process; without the
		// cache it would have reached the caller's recovery (gqlgen's).
		defer func() {
			if r := recover(); r != nil {
				v, err = nil, fmt.Errorf("upstream: %s call panicked: %v", k.kind, r)
			}
		}()
		t, err := call(fctx)
		return t, err
	})
	if c.joined != nil {
		c.joined()
	}
	select {
	case r := <-ch:
		if !leader {
			c.obs.Coalesced(kindNames[k.kind])
		}
		if r.Err != nil {
			return zero, r.Err
		}
		return r.Val.(T), nil
	case <-ctx.Done():
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if sw, ok := c.waits.Load(name); ok && sw.(*lemlist.SlotWait).Waiting() {
			return zero, &lemlist.RateLimitError{Endpoint: kindRoutes[k.kind]}
		}
	}
	return zero, ctx.Err()
}

// settledAt returns a settled func for flight: the entry of k in memory,
// whose value is a T (or nil, with a remembered 404).
func settledAt[T any](c *Cache, k key) func() (T, error, bool) {
	return func() (T, error, bool) {
		e, ok := c.mem.get(context.Background(), k)
		if !ok {
			var zero T
			return zero, nil, false
		}
		v, _ := e.val.(T)
		return v, e.err, true
	}
}

// settledContacts returns the contacts of ids in memory, if every id has
// an entry there (a contact, or one remembered absent), for GetContacts'
// flight.
func (c *Cache) settledContacts(tenant string, ids []string) ([]*lemlist.Contact, bool) {
	var cs []*lemlist.Contact
	for _, id := range ids {
		e, ok := c.mem.get(context.Background(), key{tenant, kindContacts, id})
		if !ok {
			return nil, false
		}
		if e.val != nil {
			cs = append(cs, e.val.(*lemlist.Contact))
		}
	}
	return slices.Clip(cs), true
}

// canonicalQuery encodes q unambiguously and in a canonical order, with
// every key and value length-prefixed: cheaper than url.Values.Encode, which
// escapes.
func canonicalQuery(q url.Values) string {
	type param struct {
		k  string
		vs []string
	}
	var buf [16]param
	ps := buf[:0]
	n := 0
	for k, vs := range q {
		ps = append(ps, param{k, vs})
		n += len(k) + 8
		for _, v := range vs {
			n += len(v) + 4
		}
	}
	// Insertion sort: a query has a handful of parameters.
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].k < ps[j-1].k; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
	b := make([]byte, 0, n)
	for _, p := range ps {
		b = appendField(b, p.k)
		b = strconv.AppendInt(b, int64(len(p.vs)), 10)
		b = append(b, '#')
		for _, v := range p.vs {
			b = appendField(b, v)
		}
	}
	// b is not written again: the string may share its array, as
	// strings.Builder does.
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// encodeIDs encodes ids unambiguously, each length-prefixed.
func encodeIDs(ids []string) string {
	n := 0
	for _, id := range ids {
		n += len(id) + 4
	}
	b := make([]byte, 0, n)
	for _, id := range ids {
		b = appendField(b, id)
	}
	return string(b)
}

func appendField(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// activitiesSize estimates the memory of a page of activities.
func activitiesSize(rows []*lemlist.Activity) int64 {
	n := int64(cap(rows)) * 8
	for _, a := range rows {
		if a != nil {
			n += objectSize(unsafe.Sizeof(*a), a.Raw, a)
		}
	}
	return n
}

// objectSize estimates the memory of a decoded lemlist object: its struct,
// its raw JSON, and about as much again for the values decoded from it
// (strings, maps). An object without Raw is weighed by its encoding.
func objectSize(structSize uintptr, raw json.RawMessage, v any) int64 {
	n := len(raw)
	if n == 0 {
		b, _ := json.Marshal(v)
		n = len(b) / 2 // no Raw held: only the decoded values count
	}
	return int64(structSize) + 2*int64(n)
}
