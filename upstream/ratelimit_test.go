package upstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
)

// transport answers a lemlist client's requests in process (a synctest
// bubble cannot wait on a network).
type transport func(*http.Request) (*http.Response, error)

func (f transport) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func jsonAnswer(r *http.Request, body string) *http.Response {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: r}
}

// A caller whose deadline passes while the call it shares waits for a rate
// limit slot gets a RateLimitError, though the call runs on without that
// deadline and fills the cache; a caller whose deadline passes while
// lemlist answers gets the deadline.
func TestDeadlineWhileSharedCallWaitsForASlot(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var requests atomic.Int32
		rt := transport(func(r *http.Request) (*http.Response, error) {
			requests.Add(1)
			switch {
			case strings.HasSuffix(r.URL.Path, "/team"):
				return jsonAnswer(r, `{"_id":"tea_1"}`), nil
			case strings.HasSuffix(r.URL.Path, "/leads"):
				return jsonAnswer(r, `{"_id":"lea_1","email":"a@example.com"}`), nil
			}
			<-r.Context().Done() // campaigns: lemlist does not answer
			return nil, r.Context().Err()
		})
		lc, err := lemlist.NewClient("key", lemlist.WithBaseURL("http://lemlist.test/api/"),
			lemlist.WithHTTPClient(&http.Client{Transport: rt}), lemlist.WithRateLimit(1, time.Hour),
			lemlist.WithRetry(lemlist.RetryPolicy{MaxAttempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		up := Cached(Client(lc), NewCache(CacheOptions{TTL: time.Hour, CallTimeout: 2 * time.Hour}), "t")
		if _, err := up.GetTeam(t.Context()); err != nil { // the hour's slot
			t.Fatal(err)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		_, err = up.GetLead(ctx, "lea_1")
		rle, ok := errors.AsType[*lemlist.RateLimitError](err)
		if !ok || !errors.Is(err, lemlist.ErrRateLimitWait) || rle.Endpoint != "leads" || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("deadline while the shared call waits for a slot: %v, want a *lemlist.RateLimitError for leads", err)
		}
		if d := time.Since(start); d != 10*time.Minute {
			t.Errorf("failed after %v, want at the deadline", d)
		}
		time.Sleep(time.Hour) // the call gets its slot, and its answer is kept
		if l, err := up.GetLead(t.Context(), "lea_1"); err != nil || l.ID != "lea_1" {
			t.Fatalf("lead after the slot: %v, %v", l, err)
		}
		if n := requests.Load(); n != 2 {
			t.Errorf("%d requests, want 2 (team, then the lead once)", n)
		}

		time.Sleep(time.Hour) // a slot is free: the next call is sent at once
		ctx, cancel = context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()
		if _, err := up.GetCampaign(ctx, "cam_1"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("deadline while lemlist answers: %v, want context.DeadlineExceeded", err)
		}
	})
}

// A foreground call never joins a background call's flight, which waits at
// background priority; identical calls of one priority still share one.
func TestBackgroundFlightsApart(t *testing.T) {
	t.Parallel()
	c, _, _ := newTestCache(CacheOptions{TTL: ttl})
	joins := watchJoins(c)
	f := newFake("A")
	f.started = make(chan struct{}, 4)
	release := f.block()
	up := Cached(f, c, "t")
	bg := lemlist.Background(t.Context())
	errs := make(chan error, 4)
	for _, ctx := range []context.Context{bg, bg, t.Context(), t.Context()} {
		go func() {
			_, err := up.GetLead(ctx, "l1")
			errs <- err
		}()
	}
	joins.wait(4)
	// Both flights must be calling before either answers: a flight that
	// starts after the other has kept its answer serves it from memory.
	<-f.started
	<-f.started
	release()
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("%d upstream calls, want 2: one per priority", n)
	}
}
