package lemlist

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestWindowLimiterRecord(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	ms := func(d int) time.Time { return t0.Add(time.Duration(d) * time.Millisecond) }
	l := NewWindowLimiter(2, time.Second)
	l.Record(ms(100))
	l.Record(ms(0)) // out of order: kept sorted
	if got := l.earliestLocked(ms(200), 0); !got.Equal(ms(1000)) {
		t.Errorf("after two recorded grants: next at %s, want 1000ms", got.Sub(t0))
	}
	l.Record(ms(-50)) // older than the last n: ignored
	l.Record(ms(300)) // pushes out 0ms
	if want := []time.Time{ms(100), ms(300)}; len(l.log) != 2 || !l.log[0].Equal(want[0]) || !l.log[1].Equal(want[1]) {
		t.Errorf("log %v, want 100ms, 300ms", l.log)
	}
	NewWindowLimiter(0, 0).Record(ms(0)) // unlimited: a no-op
}

// A recorded grant delays a waiter whose timer was armed before it.
func TestWindowLimiterRecordDelaysWaiters(t *testing.T) {
	t.Parallel()
	const window = 150 * time.Millisecond
	l := NewWindowLimiter(1, window)
	ctx := t.Context()
	if err := l.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan time.Time, 1)
	go func() {
		if err := l.Wait(ctx); err != nil {
			t.Error(err)
		}
		done <- time.Now()
	}()
	waitFor(t, "the waiter to queue", func() bool { return l.queued("") == 1 })
	time.Sleep(window / 3)
	recorded := time.Now()
	l.Record(recorded) // another process used the slot just now
	if got := (<-done).Sub(recorded); got < window {
		t.Errorf("waiter granted %v after the recorded grant, want >= %v", got, window)
	}
}

func TestWindowLimiterWaitSlot(t *testing.T) {
	t.Parallel()
	l := NewWindowLimiter(1, time.Second)
	answered, err := l.WaitSlot(t.Context())
	if err != nil || answered == nil {
		t.Fatalf("WaitSlot = %v, %v", answered != nil, err)
	}
	grant := l.log[0]
	answered(grant.Add(300 * time.Millisecond))
	if got := l.log[0].Sub(grant); got != 300*time.Millisecond {
		t.Errorf("slot moved by %v, want 300ms", got)
	}
	off := NewWindowLimiter(0, 0)
	if answered, err := off.WaitSlot(t.Context()); answered != nil || err != nil {
		t.Errorf("unlimited WaitSlot = %v, %v; want nil, nil", answered != nil, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if answered, err := l.WaitSlot(ctx); answered != nil || err == nil {
		t.Errorf("cancelled WaitSlot = %v, %v; want nil, an error", answered != nil, err)
	}
}

// slotLimiter is a SlotLimiter other than a WindowLimiter, recording what
// the client tells it.
type slotLimiter struct {
	mu       sync.Mutex
	waits    int
	answered []time.Time
}

func (s *slotLimiter) Wait(context.Context) error { panic("Wait called on a SlotLimiter") }
func (s *slotLimiter) Pause(time.Time)            {}
func (s *slotLimiter) WaitSlot(context.Context) (func(time.Time), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits++
	return func(at time.Time) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.answered = append(s.answered, at)
	}, nil
}

func TestClientCallsAnsweredOfASlotLimiter(t *testing.T) {
	t.Parallel()
	sl := &slotLimiter{}
	c, mux, _ := setup(t, WithLimiter(sl))
	var arrived time.Time
	mux.HandleFunc("/api/team", func(w http.ResponseWriter, r *http.Request) {
		arrived = time.Now()
		reply(200, `{"_id":"tea_1"}`)(w, r)
	})
	if _, _, err := c.Team.Get(t.Context()); err != nil {
		t.Fatal(err)
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.waits != 1 || len(sl.answered) != 1 {
		t.Fatalf("WaitSlot called %d times, answered %d times; want 1, 1", sl.waits, len(sl.answered))
	}
	if sl.answered[0].Before(arrived) {
		t.Errorf("answered at %v, before the request arrived at %v", sl.answered[0], arrived)
	}
}
