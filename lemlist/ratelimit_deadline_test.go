package lemlist

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
)

// These tests run in a synctest bubble: time is fake, and moves only when
// every goroutine of the test is blocked, so grant times are exact.

// wantWaitError fails t unless err is the limiter's *RateLimitError (no
// response, matching ErrRateLimitWait) with RetryAfter retry.
func wantWaitError(t *testing.T, what string, err error, retry time.Duration) *RateLimitError {
	t.Helper()
	rle, ok := errors.AsType[*RateLimitError](err)
	if !ok || !errors.Is(err, ErrRateLimitWait) || rle.Response != nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%s: got %v, want a *RateLimitError matching ErrRateLimitWait", what, err)
		return nil
	}
	if rle.RetryAfter != retry {
		t.Errorf("%s: RetryAfter %v, want %v", what, rle.RetryAfter, retry)
	}
	return rle
}

// A call whose deadline passes while it waits in the queue fails with a
// RateLimitError, not with the deadline; a cancelled one with
// context.Canceled.
func TestWindowLimiterDeadlineWhileQueued(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := NewWindowLimiter(1, time.Hour)
		start := time.Now()
		if err := l.Wait(t.Context()); err != nil { // the hour's slot
			t.Fatal(err)
		}
		errA := make(chan error, 1)
		go func() { errA <- l.Wait(WithCaller(t.Context(), "a")) }() // next slot, at 1h
		synctest.Wait()
		// b's own line is empty, so it could be served at 1h and its
		// deadline does not fail it at once; but a is ahead of it.
		ctxB, cancelB := context.WithTimeout(WithCaller(t.Context(), "b"), 90*time.Minute)
		defer cancelB()
		errB := make(chan error, 1)
		go func() { errB <- l.Wait(ctxB) }()
		ctxC, cancelC := context.WithCancel(WithCaller(t.Context(), "c"))
		errC := make(chan error, 1)
		go func() { errC <- l.Wait(ctxC) }()
		synctest.Wait()
		if got := l.queue.Len(); got != 3 {
			t.Fatalf("%d calls queued, want 3", got)
		}

		time.Sleep(30 * time.Minute)
		cancelC()
		if err := <-errC; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled call: got %v, want context.Canceled", err)
		}
		time.Sleep(time.Hour) // a is granted at 1h, b's deadline passes at 1h30
		if err := <-errA; err != nil {
			t.Errorf("a: %v", err)
		}
		// a's grant at 1h holds the only slot until 2h.
		wantWaitError(t, "deadline while queued", <-errB, 30*time.Minute)
		if got := time.Since(start); got != 90*time.Minute {
			t.Errorf("b failed at %v, want at its deadline (1h30)", got)
		}
		if !l.idle() {
			t.Error("waiters left in the queue")
		}
	})
}

// A deadline already past fails as a wait that would pass it, even with a
// slot free, and takes no slot.
func TestWindowLimiterDeadlineAlreadyPast(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := NewWindowLimiter(5, time.Second)
		ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Millisecond))
		defer cancel()
		wantWaitError(t, "past deadline", l.Wait(ctx), 0)
		if len(l.log) != 0 {
			t.Errorf("%d slots taken, want 0", len(l.log))
		}
		if err := NewWindowLimiter(0, 0).Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("unlimited: got %v, want the deadline", err)
		}
	})
}

// roundTrip is an http.RoundTripper answering from a function, without a
// network (which a synctest bubble cannot wait on).
type roundTrip func(*http.Request) *http.Response

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) {
	resp := f(r)
	resp.Request = r
	if resp.Body == nil {
		resp.Body = io.NopCloser(strings.NewReader(""))
	}
	return resp, nil
}

func answer(status int, body string, h ...string) *http.Response {
	resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
	for _, kv := range h {
		k, v, _ := strings.Cut(kv, ": ")
		resp.Header.Set(k, v)
	}
	return resp
}

// offlineClient returns a client over rt, limited to 1 request per window.
func offlineClient(t *testing.T, window time.Duration, rt roundTrip) *Client {
	t.Helper()
	c, err := NewClient(testKey, WithBaseURL("http://lemlist.test/api/"), WithHTTPClient(&http.Client{Transport: rt}),
		WithRateLimit(1, window), WithRetry(RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The client returns the limiter's RateLimitError, with its endpoint, for
// a deadline that passes in the queue; a SlotWait tells, meanwhile, that
// the call waits for a slot.
func TestClientDeadlineWhileQueued(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var requests atomic.Int32
		c := offlineClient(t, time.Hour, func(*http.Request) *http.Response {
			requests.Add(1)
			return answer(200, `{"_id":"tea_1"}`)
		})
		if _, _, err := c.Team.Get(t.Context()); err != nil {
			t.Fatal(err)
		}
		var sw SlotWait
		errA := make(chan error, 1)
		go func() {
			_, _, err := c.Team.Get(WithSlotWait(WithCaller(t.Context(), "a"), &sw))
			errA <- err
		}()
		synctest.Wait()
		if !sw.Waiting() {
			t.Error("a queued call's SlotWait says it is not waiting")
		}
		ctx, cancel := context.WithTimeout(WithCaller(t.Context(), "b"), 90*time.Minute)
		defer cancel()
		_, _, err := c.Team.Get(ctx)
		if rle := wantWaitError(t, "deadline while queued", err, 30*time.Minute); rle != nil && rle.Endpoint != "team" {
			t.Errorf("endpoint %q, want team", rle.Endpoint)
		}
		if err := <-errA; err != nil {
			t.Fatal(err)
		}
		if sw.Waiting() {
			t.Error("a granted call's SlotWait says it is waiting")
		}
		if n := requests.Load(); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
}

// A 429's Retry-After is a wait for a slot: SlotWait says so while the
// client sleeps before its retry.
func TestSlotWaitDuringRetryAfter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var requests atomic.Int32
		c := offlineClient(t, time.Millisecond, func(*http.Request) *http.Response {
			if requests.Add(1) == 1 {
				return answer(429, "", "Retry-After: 60")
			}
			return answer(200, `{"_id":"tea_1"}`)
		})
		var sw SlotWait
		done := make(chan error, 1)
		go func() {
			_, _, err := c.Team.Get(WithSlotWait(t.Context(), &sw))
			done <- err
		}()
		synctest.Wait()
		if !sw.Waiting() || requests.Load() != 1 {
			t.Errorf("after a 429: waiting %v after %d requests, want true after 1", sw.Waiting(), requests.Load())
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if sw.Waiting() || requests.Load() != 2 {
			t.Errorf("after the retry: waiting %v after %d requests, want false after 2", sw.Waiting(), requests.Load())
		}
	})
}
