package lemlisttest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
)

// Tenant is one team of the fake: an API key, its data and its rate-limit
// budget. Every method is safe for concurrent use.
type Tenant struct {
	s         *Server
	name, key string

	mu sync.RWMutex // guards d
	d  *dataset

	lim limiter // guarded by s.mu

	revoked atomic.Bool // Revoke: the key is refused from now on

	hooks hookStore // POST /hooks
}

// Revoke makes the tenant's key unknown from now on, as when a team
// rotates a leaked key: every request with it gets lemlist's 401.
func (t *Tenant) Revoke() { t.revoked.Store(true) }

// Activity is one activity of the fake, read from its own records (not
// from lemlist.Activity).
type Activity struct {
	ID        string
	Type      string
	CreatedAt time.Time
	// CampaignID and LeadID are empty on company notes ("annotated").
	CampaignID string
	LeadID     string
	ContactID  string
	// IsFirst is nil when the activity has no isFirst field.
	IsFirst *bool

	t   *Tenant
	pos int32
}

// JSON renders the activity exactly as the fake serves it, or nil once it
// has been deleted. It renders on each call, so holding many Activity
// values costs no JSON memory.
func (a Activity) JSON() json.RawMessage {
	if a.t == nil {
		return nil
	}
	a.t.mu.RLock()
	defer a.t.mu.RUnlock()
	p, ok := a.t.d.find(a.pos, a.CreatedAt.UnixMilli(), a.ID)
	if !ok {
		return nil
	}
	return a.t.d.appendActivity(nil, &a.t.d.acts[p])
}

// Campaign describes one of a tenant's campaigns.
type Campaign struct {
	ID, Name, Status string
	// LeadIDs are the campaign's leads.
	LeadIDs []string
}

// Lead describes one campaign-scoped lead (lea_…).
type Lead struct {
	ID, CampaignID, ContactID  string
	Email, FirstName, LastName string
}

// Contact describes one person (ctc_…); a person enrolled in several
// campaigns has one contact and several leads.
type Contact struct {
	ID, Email string
	LeadIDs   []string
}

// User is one member of a tenant's team.
type User struct {
	ID, Name, Email, Role string
}

// ActivitySpec describes an activity for Tenant.Insert.
type ActivitySpec struct {
	// Type is the activity type; any string is accepted, unknown types
	// render with the common fields only. Empty picks a type the lead's
	// campaign produces; "annotated" makes a company note without lead.
	Type string
	// LeadID is an existing lead of the tenant; empty picks one at random.
	LeadID string
	// Fields are extra top-level fields, rendered after the generated ones.
	// A key that repeats a generated one comes last, so a decoder that
	// keeps the last value (like encoding/json) sees it.
	Fields map[string]any
	// CreatedAt, when set, is the activity's createdAt (truncated to the
	// millisecond): a late arrival, visible from now on with a date in the
	// past, placed among the existing activities (after those with the
	// same createdAt and a smaller id). Zero puts the activity on top,
	// one second after the current newest.
	CreatedAt time.Time
}

// Name returns the tenant's name.
func (t *Tenant) Name() string { return t.name }

// APIKey returns the tenant's API key.
func (t *Tenant) APIKey() string { return t.key }

// TeamID returns the tenant's team id (tea_…).
func (t *Tenant) TeamID() string { return t.d.teamID }

// Client returns a lemlist client for this tenant with the base URL set
// and, unless opts say otherwise, no client-side rate limiting. opts apply
// after the defaults. It panics if an option fails.
func (t *Tenant) Client(opts ...lemlist.Option) *lemlist.Client {
	all := append([]lemlist.Option{lemlist.WithBaseURL(t.s.URL), lemlist.WithRateLimit(0, 0)}, opts...)
	c, err := lemlist.NewClient(t.key, all...)
	if err != nil {
		panic("lemlisttest: " + err.Error())
	}
	return c
}

// Len returns the number of activities.
func (t *Tenant) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.d.acts)
}

// MaxInWindow returns the largest number of requests the rate limiter
// accepted for this tenant's key within one RateWindow (a half-open
// interval), over the server's life. It is tracked even with NoRateLimit.
func (t *Tenant) MaxInWindow() int {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.lim.max
}

// Expected returns every activity GET /activities?q would match, newest
// first, exactly as the fake orders them. It ignores version, offset and
// limit; a filter the fake refuses returns a *QueryError.
func (t *Tenant) Expected(q url.Values) ([]Activity, error) {
	f, err := parseFilter(q, t.s.prec)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []Activity
	t.d.selectActs(&f, 0, -1, func(p int32) { out = append(out, t.activity(p)) })
	return out, nil
}

// InsertActivities adds n random activities on top of the list, each
// strictly newer than the current newest (one second apart), and returns
// them newest first. Offsets of pages served before shift by n.
func (t *Tenant) InsertActivities(n int) []Activity {
	specs := make([]ActivitySpec, n)
	out, err := t.Insert(specs...)
	if err != nil {
		panic("lemlisttest: " + err.Error()) // random specs cannot fail
	}
	return out
}

// Insert adds one activity per spec, in order, and returns them newest
// first. A spec without CreatedAt goes on top of the list, strictly newer
// than the current newest (one second apart); one with CreatedAt is a late
// arrival placed at that date, which shifts the offsets of every older
// activity. It fails, inserting nothing, on an unknown lead or unencodable
// fields.
func (t *Tenant) Insert(specs ...ActivitySpec) ([]Activity, error) {
	extras := make([][]byte, len(specs))
	for i, sp := range specs {
		if len(sp.Fields) == 0 {
			continue
		}
		keys := make([]string, 0, len(sp.Fields))
		for k := range sp.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b []byte
		for j, k := range keys {
			v, err := json.Marshal(sp.Fields[k])
			if err != nil {
				return nil, fmt.Errorf("lemlisttest: field %q: %w", k, err)
			}
			if j > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = append(b, v...)
		}
		extras[i] = b
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.d
	leads := make([]int32, len(specs))
	for i, sp := range specs {
		leads[i] = -1
		if sp.LeadID != "" {
			l, ok := d.leadByID[sp.LeadID]
			if !ok {
				return nil, fmt.Errorf("lemlisttest: unknown lead %q", sp.LeadID)
			}
			leads[i] = l
		}
		if sp.Type != "" && sp.Type != "annotated" && leads[i] < 0 && len(d.leads) == 0 {
			return nil, errors.New("lemlisttest: the tenant has no lead for a " + sp.Type + " activity")
		}
	}
	out := make([]Activity, len(specs))
	late := false
	for i, sp := range specs {
		typ := int32(-1)
		if sp.Type != "" {
			typ = int32(d.typeIndex(sp.Type))
		}
		r := d.randomRec(leads[i], typ)
		if extras[i] != nil {
			r.aux = int32(len(d.extras))
			d.extras = append(d.extras, extras[i])
		}
		if sp.CreatedAt.IsZero() {
			out[i] = t.activity(d.push(r))
			continue
		}
		r.at = sp.CreatedAt.UnixMilli()
		out[i] = t.activity(d.insertAt(r))
		late = true
	}
	if late {
		d.buildIndexes()
		for i := range out { // positions moved
			out[i].pos, _ = d.find(-1, out[i].CreatedAt.UnixMilli(), out[i].ID)
		}
	}
	slices.SortFunc(out, func(a, b Activity) int { return cmp.Compare(b.pos, a.pos) })
	return out, nil
}

// Delete removes the activities with these ids, as a user deleting them in
// lemlist would: every later GET /activities misses them, and the offsets
// of the older ones shift. Unknown ids are ignored; it returns how many
// were removed. Activity values of deleted activities render no JSON.
func (t *Tenant) Delete(ids ...string) int {
	drop := make(map[[17]byte]bool, len(ids))
	for _, id := range ids {
		if suffix, ok := strings.CutPrefix(id, "act_"); ok && len(suffix) == 17 {
			drop[[17]byte([]byte(suffix))] = true
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.d
	n := len(d.acts)
	d.acts = slices.DeleteFunc(d.acts, func(r rec) bool { return drop[r.id] })
	if removed := n - len(d.acts); removed > 0 {
		d.buildIndexes()
		return removed
	}
	return 0
}

// activity builds the exported view of the activity at position p; the
// caller holds t.mu.
func (t *Tenant) activity(p int32) Activity {
	d := t.d
	r := &d.acts[p]
	a := Activity{
		t:         t,
		ID:        "act_" + string(r.id[:]),
		Type:      d.types[r.typ].name,
		CreatedAt: time.UnixMilli(r.at).UTC(),
		pos:       p,
	}
	if r.lead >= 0 {
		l := &d.leads[r.lead]
		a.LeadID = l.id
		a.CampaignID = d.campaigns[l.campaign].id
		a.ContactID = d.persons[l.person].id
	}
	if r.flags&fFirstSet != 0 {
		v := r.flags&fFirst != 0
		a.IsFirst = &v
	}
	return a
}

// Campaigns returns the tenant's campaigns in creation order of the
// generator.
func (t *Tenant) Campaigns() []Campaign {
	t.mu.RLock()
	defer t.mu.RUnlock()
	d := t.d
	out := make([]Campaign, len(d.campaigns))
	for i, c := range d.campaigns {
		out[i] = Campaign{ID: c.id, Name: c.name, Status: c.status}
	}
	for _, l := range d.leads {
		out[l.campaign].LeadIDs = append(out[l.campaign].LeadIDs, l.id)
	}
	return out
}

// Leads returns the tenant's leads.
func (t *Tenant) Leads() []Lead {
	t.mu.RLock()
	defer t.mu.RUnlock()
	d := t.d
	out := make([]Lead, len(d.leads))
	for i, l := range d.leads {
		p := &d.persons[l.person]
		out[i] = Lead{ID: l.id, CampaignID: d.campaigns[l.campaign].id, ContactID: p.id, Email: p.email, FirstName: p.first, LastName: p.last}
	}
	return out
}

// Contacts returns the tenant's contacts.
func (t *Tenant) Contacts() []Contact {
	t.mu.RLock()
	defer t.mu.RUnlock()
	d := t.d
	out := make([]Contact, len(d.persons))
	for i, p := range d.persons {
		c := Contact{ID: p.id, Email: p.email}
		for _, l := range p.leads {
			c.LeadIDs = append(c.LeadIDs, d.leads[l].id)
		}
		out[i] = c
	}
	return out
}

// Users returns the tenant's team members.
func (t *Tenant) Users() []User {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]User, len(t.d.users))
	for i, u := range t.d.users {
		out[i] = User{ID: u.id, Name: u.name, Email: u.email, Role: u.role}
	}
	return out
}

// Types returns the activity types that have at least one activity, sorted.
func (t *Tenant) Types() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []string
	for i, l := range t.d.byType {
		if len(l) > 0 {
			out = append(out, t.d.types[i].name)
		}
	}
	slices.Sort(out)
	return out
}

// serveActivities answers GET /activities.
func (t *Tenant) serveActivities(q url.Values, _ string) response {
	if q.Get("version") != "v2" {
		return text(400, msgVersion)
	}
	offset, limit, err := parsePaging(q)
	if err != nil {
		return text(400, err.Error())
	}
	f, err := parseFilter(q, t.s.prec)
	if err != nil {
		return text(400, err.Error())
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	bp := t.s.bufs.Get().(*[]byte)
	b := append((*bp)[:0], '[')
	t.d.selectActs(&f, offset, limit, func(p int32) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = t.d.appendActivity(b, &t.d.acts[p])
	})
	*bp = append(b, ']')
	return response{status: 200, ctype: ctJSON, body: *bp, pooled: bp}
}
