package feed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lemlist-graphql/server/lemlist"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// base is the createdAt of the fake's first activities.
var base = time.Date(2026, 5, 11, 8, 0, 0, 0, time.UTC)

// act returns an activity of type emailsSent created sec seconds after base.
func act(id string, sec int) *lemlist.Activity {
	return &lemlist.Activity{ID: id, Type: "emailsSent", CreatedAt: base.Add(time.Duration(sec) * time.Second)}
}

// fakeUp is an Upstream serving ListActivities from memory as lemlist
// does: filtered, newest first, equal createdAt by _id descending, offset
// and limit.
type fakeUp struct {
	mu    sync.Mutex
	rows  []*lemlist.Activity
	calls []lemlist.ActivityListOptions
	errs  []error // returned by the next calls, in order
	// onList, if set, runs (without the lock) before each call is served.
	onList func(call int, o *lemlist.ActivityListOptions)
}

func (f *fakeUp) add(rows ...*lemlist.Activity) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rows = append(f.rows, rows...)
}

func (f *fakeUp) failNext(errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, errs...)
}

func (f *fakeUp) numCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// numCallsOfType counts the calls made with type typ ("" for none).
func (f *fakeUp) numCallsOfType(typ string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, o := range f.calls {
		if o.Type == typ {
			n++
		}
	}
	return n
}

func (f *fakeUp) ListActivities(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
	if _, err := o.Values(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, *o)
	hook := f.onList
	f.mu.Unlock()
	if hook != nil {
		hook(n, o)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	var out []*lemlist.Activity
	for _, a := range f.rows {
		at := a.CreatedAt
		switch {
		case o.Type != "" && a.Type != o.Type,
			o.CampaignID != "" && a.CampaignID != o.CampaignID,
			o.LeadID != "" && a.LeadID != o.LeadID,
			o.IsFirst != nil && (a.IsFirst != nil && *a.IsFirst) != *o.IsFirst,
			!o.MinDate.IsZero() && at.Before(o.MinDate),
			!o.MaxDate.IsZero() && at.After(o.MaxDate):
			continue
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *lemlist.Activity) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	limit := cmp.Or(o.Limit, lemlist.MaxPageSize)
	if o.Offset >= len(out) {
		return nil, nil
	}
	out = out[o.Offset:]
	return slices.Clone(out[:min(limit, len(out))]), nil
}

func (*fakeUp) GetLead(context.Context, string) (*lemlist.Lead, error) {
	return nil, errors.New("fakeUp: no leads")
}

func (*fakeUp) GetContacts(context.Context, []string) ([]*lemlist.Contact, error) {
	return nil, errors.New("fakeUp: no contacts")
}

func (*fakeUp) GetCampaign(context.Context, string) (*lemlist.Campaign, error) {
	return nil, errors.New("fakeUp: no campaigns")
}

func (*fakeUp) GetTeam(context.Context) (*lemlist.Team, error) {
	return nil, errors.New("fakeUp: no team")
}

// eventually fails the test unless cond holds within 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitPolls waits until the hub has done n more polls than now. Activities
// a poll finds are queued before it counts.
func waitPolls(t *testing.T, h *Hub, n uint64) {
	t.Helper()
	target := h.Stats().Polls + n
	eventually(t, fmt.Sprintf("%d polls", n), func() bool { return h.Stats().Polls >= target })
}

// recv reads n activities from s, failing after 10 s.
func recv(t *testing.T, s *Subscription, n int) []*lemlist.Activity {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out []*lemlist.Activity
	for len(out) < n {
		a, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("got %d of %d activities (%s), then %v", len(out), n, ids(out), err)
		}
		out = append(out, a)
	}
	return out
}

// queued returns what s holds now, without waiting.
func queued(s *Subscription) []*lemlist.Activity {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	var out []*lemlist.Activity
	for {
		a, err := s.Next(done)
		if err != nil {
			return out
		}
		out = append(out, a)
	}
}

func ids(acts []*lemlist.Activity) string {
	s := make([]string, len(acts))
	for i, a := range acts {
		s[i] = a.ID
	}
	return strings.Join(s, ",")
}

// next fails t unless the next activity s receives is id.
func next(t *testing.T, s *Subscription, id string) {
	t.Helper()
	if got := ids(recv(t, s, 1)); got != id {
		t.Fatalf("got %s, want %s", got, id)
	}
}

// nothingAfter fails t if s holds any activity once h has polled n more
// times; what names what such an activity would be.
func nothingAfter(t *testing.T, h *Hub, n uint64, s *Subscription, what string) {
	t.Helper()
	waitPolls(t, h, n)
	if more := queued(s); len(more) != 0 {
		t.Fatalf("%s: %s", what, ids(more))
	}
}
