package lemlist

import (
	"context"
	"maps"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// These tests run in a synctest bubble: time is fake, so grant times are
// exact.

func TestForegroundReserve(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]int{20: 4, 6: 1, 5: 1, 4: 0, 1: 0, 0: 0} {
		if got := ForegroundReserve(n); got != want {
			t.Errorf("ForegroundReserve(%d) = %d, want %d", n, got, want)
		}
	}
	if IsBackground(t.Context()) || !IsBackground(Background(t.Context())) {
		t.Error("IsBackground does not tell Background's contexts")
	}
}

// Background work alone gets n - n/5 slots of every window: 16 of 20 per
// 2 s, at least three quarters of the budget. The other 4 stay free for
// foreground calls, which get them at once.
func TestBackgroundLeavesTheReserve(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const (
			n      = 20
			window = 2 * time.Second
		)
		l := NewWindowLimiter(n, window)
		start := time.Now()
		// Until 9 s: the grants at 10 s would pass the deadline.
		ctx, cancel := context.WithTimeout(Background(t.Context()), 9*time.Second)
		defer cancel()
		var mu sync.Mutex
		perWindow := map[time.Duration]int{} // grants by time since start
		var wg sync.WaitGroup
		for w := range 4 {
			ctx := WithCaller(ctx, string(rune('a'+w)))
			wg.Go(func() {
				for l.Wait(ctx) == nil {
					mu.Lock()
					perWindow[time.Since(start)]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		want := map[time.Duration]int{0: 16, 2 * time.Second: 16, 4 * time.Second: 16, 6 * time.Second: 16, 8 * time.Second: 16}
		if !maps.Equal(perWindow, want) {
			t.Errorf("background grants by time %v, want 16 every 2s: %v", perWindow, want)
		}

		// The workers stopped at 8 s, their next slot (at 10 s) being past
		// the deadline. A background call waits for 10 s too; a foreground
		// one takes the reserve at once.
		short, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		wantWaitError(t, "background past its share", l.Wait(Background(short)), 2*time.Second)
		for i := range ForegroundReserve(n) {
			if err := l.Wait(short); err != nil {
				t.Fatalf("foreground call %d: %v, want a reserved slot", i, err)
			}
		}
		wantWaitError(t, "foreground past the budget", l.Wait(short), 2*time.Second)
		if got := time.Since(start); got != 8*time.Second {
			t.Errorf("foreground calls took until %v, want no wait", got)
		}
		if !l.idle() {
			t.Error("waiters left in the queue")
		}
	})
}

// Waiting foreground calls are served before waiting background calls,
// whatever their arrival order, and a background call never takes the
// window's last slot.
func TestForegroundFirst(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const window = time.Hour
		l := NewWindowLimiter(5, window) // reserve 1: background gets 4
		start := time.Now()
		bg := Background(t.Context())
		for range 4 { // at 0, 10, 20 and 30 minutes
			if err := l.Wait(bg); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Minute)
		}
		var mu sync.Mutex
		granted := map[string]time.Duration{}
		var wg sync.WaitGroup
		wait := func(ctx context.Context, name string) {
			wg.Go(func() {
				if err := l.Wait(ctx); err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
				mu.Lock()
				granted[name] = time.Since(start)
				mu.Unlock()
			})
			synctest.Wait() // queued, or granted, before the next one comes
		}
		wait(bg, "bg1") // 4 background grants in the window: bg1 and bg2 wait
		wait(bg, "bg2")
		wait(t.Context(), "fg0") // takes the reserved fifth slot at once
		wait(t.Context(), "fg1") // the window is full: fg1 and fg2 wait
		wait(t.Context(), "fg2")
		mu.Lock()
		got, ok := granted["fg0"]
		mu.Unlock()
		if !ok || got != 40*time.Minute {
			t.Errorf("fg0 granted at %v (%v), want at once (40m)", got, ok)
		}
		l.mu.Lock()
		q, b := l.queue.Len(), l.background.Len()
		l.mu.Unlock()
		if q != 2 || b != 2 {
			t.Fatalf("%d foreground and %d background calls waiting, want 2 and 2", q, b)
		}
		wg.Wait()
		// Slots free at 1h, 1h10, 1h20, 1h30, 1h40 (the grants of 0 to 40m).
		// fg1 and fg2 take the first two; at 1h20 four grants (30m, 40m, 1h,
		// 1h10) are in the window, background's share: bg1 waits for 1h30.
		want := map[string]time.Duration{
			"fg0": 40 * time.Minute,
			"fg1": time.Hour, "fg2": time.Hour + 10*time.Minute,
			"bg1": time.Hour + 30*time.Minute, "bg2": time.Hour + 40*time.Minute,
		}
		if !maps.Equal(granted, want) {
			t.Errorf("granted at %v, want %v", granted, want)
		}
	})
}
