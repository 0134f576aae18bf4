package lemlist

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestWindowLimiterAnsweredMovesTheSlot(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	ms := func(d int) time.Time { return t0.Add(time.Duration(d) * time.Millisecond) }
	l := NewWindowLimiter(2, time.Second)
	l.log = []time.Time{ms(0), ms(100)}
	l.answered(ms(0), ms(300)) // the first request was answered at 300ms
	for k, want := range []int{1100, 1300, 2100, 2300} {
		if got := l.earliestLocked(ms(200), k); !got.Equal(ms(want)) {
			t.Errorf("grant %d: at %s, want %dms", k, got.Sub(t0), want)
		}
	}
	l.answered(ms(50), ms(400)) // not in the log: nothing moves
	l.answered(ms(100), ms(90)) // answered "before" its grant: ignored
	if want := []time.Time{ms(100), ms(300)}; len(l.log) != 2 || !l.log[0].Equal(want[0]) || !l.log[1].Equal(want[1]) {
		t.Errorf("log %v, want 100ms, 300ms", l.log)
	}
	NewWindowLimiter(0, 0).answered(ms(0), ms(1)) // unlimited: a no-op
}

// A request reaches lemlist up to a network delay after its grant; the
// next slot a window later must not reach lemlist before that request
// leaves lemlist's window. Here the answer comes 60ms after arrival, so
// the next request, one slot later, arrives at least window+60ms after.
func TestClientCountsSlotsFromTheAnswer(t *testing.T) {
	t.Parallel()
	const (
		window = 100 * time.Millisecond
		delay  = 60 * time.Millisecond
	)
	c, mux, _ := setup(t, WithRateLimit(1, window))
	var (
		mu       sync.Mutex
		arrivals []time.Time
	)
	mux.HandleFunc("/api/team", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		first := len(arrivals) == 1
		mu.Unlock()
		if first {
			time.Sleep(delay)
		}
		reply(200, `{"_id":"tea_1"}`)(w, r)
	})
	for range 2 {
		if _, _, err := c.Team.Get(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if gap := arrivals[1].Sub(arrivals[0]); gap < window+delay {
		t.Errorf("second request %v after the first, want >= %v", gap, window+delay)
	}
}
