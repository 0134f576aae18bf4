package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
)

// fake is an Upstream whose answers carry its tag, counting its calls.
type fake struct {
	tag string

	calls   atomic.Int64
	byKind  [numKinds]atomic.Int64
	started chan struct{} // if set, receives a value as each call starts

	mu       sync.Mutex
	gate     chan struct{}   // if set, calls wait for it to close
	delay    time.Duration   // each call sleeps this long
	err      error           // if set, every call fails with it
	missing  map[string]bool // ids answered with a 404 (or left out)
	panicMsg string          // if set, calls panic with it
	ctxs     []context.Context
	asked    [][]string // GetContacts ids, per call
}

func newFake(tag string) *fake { return &fake{tag: tag, missing: map[string]bool{}} }

func (f *fake) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// block makes calls wait until the returned func is called.
func (f *fake) block() (release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := make(chan struct{})
	f.gate = g
	var once sync.Once
	return func() { once.Do(func() { close(g) }) }
}

// enter records a call and waits as configured.
func (f *fake) enter(ctx context.Context, k kind) error {
	f.calls.Add(1)
	f.byKind[k].Add(1)
	f.mu.Lock()
	gate, delay, err, pm := f.gate, f.delay, f.err, f.panicMsg
	f.ctxs = append(f.ctxs, ctx)
	f.mu.Unlock()
	if f.started != nil {
		f.started <- struct{}{}
	}
	if pm != "" {
		panic(pm)
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (f *fake) isMissing(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.missing[id]
}

func raw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func notFoundErr(endpoint string) error {
	return &lemlist.ErrorResponse{
		Response:   &http.Response{StatusCode: 404},
		StatusCode: 404, Endpoint: endpoint, Message: "Not found",
	}
}

// ListActivities answers rows whose ids carry the tag and the query.
func (f *fake) ListActivities(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	q, err := o.Values()
	if err != nil {
		return nil, err
	}
	if err := f.enter(ctx, kindActivities); err != nil {
		return nil, err
	}
	n := 3
	if o != nil && o.Limit > 0 {
		n = o.Limit
	}
	rows := make([]*lemlist.Activity, n, n+5) // spare capacity on purpose
	for i := range rows {
		id := fmt.Sprintf("%s/act/%s/%d", f.tag, q.Encode(), i)
		rows[i] = &lemlist.Activity{ID: id, Type: lemlist.TypeEmailsSent, Raw: raw(map[string]string{"_id": id, "type": "emailsSent"})}
	}
	return rows, nil
}

func (f *fake) GetLead(ctx context.Context, id string) (*lemlist.Lead, error) {
	if err := f.enter(ctx, kindLead); err != nil {
		return nil, err
	}
	if f.isMissing(id) {
		return nil, notFoundErr("leads")
	}
	lid := f.tag + "/lead/" + id
	return &lemlist.Lead{ID: lid, Raw: raw(map[string]string{"_id": lid})}, nil
}

func (f *fake) GetContacts(ctx context.Context, ids []string) ([]*lemlist.Contact, error) {
	f.mu.Lock()
	f.asked = append(f.asked, append([]string(nil), ids...))
	f.mu.Unlock()
	if err := f.enter(ctx, kindContacts); err != nil {
		return nil, err
	}
	var out []*lemlist.Contact
	for _, id := range ids {
		if f.isMissing(id) {
			continue
		}
		// The id is the one asked for; the tag goes in FullName.
		out = append(out, &lemlist.Contact{ID: id, FullName: f.tag, Raw: raw(map[string]string{"_id": id, "fullName": f.tag})})
	}
	return out, nil
}

func (f *fake) GetCampaign(ctx context.Context, id string) (*lemlist.Campaign, error) {
	if err := f.enter(ctx, kindCampaign); err != nil {
		return nil, err
	}
	if f.isMissing(id) {
		return nil, notFoundErr("campaigns/{id}")
	}
	cid := f.tag + "/cam/" + id
	return &lemlist.Campaign{ID: cid, Name: f.tag, Raw: raw(map[string]string{"_id": cid, "name": f.tag})}, nil
}

func (f *fake) GetTeam(ctx context.Context) (*lemlist.Team, error) {
	if err := f.enter(ctx, kindTeam); err != nil {
		return nil, err
	}
	tid := f.tag + "/team"
	return &lemlist.Team{ID: tid, Users: []lemlist.User{{ID: f.tag + "/usr"}}, Raw: raw(map[string]string{"_id": tid})}, nil
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// counts is a CacheObserver counting events as "hit/lead" and the like.
type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) add(ev, kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[ev+"/"+kind]++
}

func (c *counts) get(ev, kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[ev+"/"+kind]
}

func (c *counts) CacheHit(kind string)  { c.add("hit", kind) }
func (c *counts) CacheMiss(kind string) { c.add("miss", kind) }
func (c *counts) Coalesced(kind string) { c.add("coalesced", kind) }

// joinCounter lets a test wait until n callers wait for flights.
type joinCounter struct {
	mu sync.Mutex
	n  int
	ch chan struct{}
}

func watchJoins(c *Cache) *joinCounter {
	j := &joinCounter{ch: make(chan struct{}, 1)}
	c.joined = func() {
		j.mu.Lock()
		j.n++
		j.mu.Unlock()
		select {
		case j.ch <- struct{}{}:
		default:
		}
	}
	return j
}

// wait blocks until at least n callers joined flights.
func (j *joinCounter) wait(n int) {
	deadline := time.After(10 * time.Second)
	for {
		j.mu.Lock()
		got := j.n
		j.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-j.ch:
		case <-deadline:
			panic(fmt.Sprintf("only %d of %d callers joined", got, n))
		}
	}
}

func hasTag(id, tag string) bool { return strings.HasPrefix(id, tag+"/") }
