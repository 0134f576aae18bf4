package lru

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a fake clock, moved by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func byLen(_ string, v string) int64 { return int64(len(v)) }

func TestBytesBound(t *testing.T) {
	t.Parallel()
	c := New(Options[string, string]{MaxBytes: 1000, Cost: byLen})
	for i := range 50 {
		c.Add(fmt.Sprint("k", i), strings.Repeat("x", 100))
	}
	if n, b := c.Size(); n != 10 || b != 1000 {
		t.Errorf("%d entries, %d bytes; want 10 and 1000", n, b)
	}
	if _, ok := c.Get("k39"); ok {
		t.Error("k39 kept: not the 10 most recent")
	}
	if v, ok := c.Get("k40"); !ok || v != strings.Repeat("x", 100) {
		t.Errorf("k40 = %q, %v; want kept", v, ok)
	}
	// k40 is now the most recently used: a new entry evicts k41 instead.
	c.Add("new", strings.Repeat("n", 100))
	if _, ok := c.Get("k40"); !ok {
		t.Error("k40 evicted though just used")
	}
	if _, ok := c.Get("k41"); ok {
		t.Error("k41 kept: the least recently used should go")
	}

	c.Add("k49", strings.Repeat("y", 50)) // replaces 100 bytes by 50
	if n, b := c.Size(); n != 10 || b != 950 {
		t.Errorf("after a replacement: %d entries, %d bytes; want 10 and 950", n, b)
	}
	c.Add("k49", strings.Repeat("z", 1001)) // over the bound: drops k49
	if _, ok := c.Get("k49"); ok {
		t.Error("an entry larger than MaxBytes was kept, or the old one stayed")
	}
	if n, b := c.Size(); n != 9 || b != 900 {
		t.Errorf("after an oversized entry: %d entries, %d bytes; want 9 and 900", n, b)
	}
	var sum int64
	for _, v := range c.Values() {
		sum += int64(len(v))
	}
	if sum != 900 {
		t.Errorf("values sum to %d bytes, Size says 900", sum)
	}
}

func TestEntriesBound(t *testing.T) {
	t.Parallel()
	c := New(Options[int, int]{MaxEntries: 3})
	for i := range 5 {
		c.Add(i, i*10)
	}
	if got := c.Values(); !slices.Equal(got, []int{20, 30, 40}) {
		t.Errorf("values %v, want the 3 newest, oldest first", got)
	}
	if n, b := c.Size(); n != 3 || b != 0 {
		t.Errorf("%d entries, %d bytes; want 3 and 0 (no Cost)", n, b)
	}
}

// Both bounds hold together, each evicting what it must.
func TestBothBounds(t *testing.T) {
	t.Parallel()
	c := New(Options[string, string]{MaxEntries: 4, MaxBytes: 10, Cost: byLen})
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		c.Add(k, "x")
	}
	if n, b := c.Size(); n != 4 || b != 4 {
		t.Errorf("%d entries, %d bytes; want 4 by count", n, b)
	}
	c.Add("big", "123456789") // 9 bytes: only one small entry may stay
	if n, b := c.Size(); n != 2 || b != 10 {
		t.Errorf("%d entries, %d bytes; want 2 and 10 by bytes", n, b)
	}
	if _, ok := c.Get("e"); !ok {
		t.Error("the newest small entry was evicted")
	}
}

func TestTTL(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := New(Options[string, int]{TTL: time.Minute, Now: clk.now})
	c.Add("a", 1)
	clk.advance(59 * time.Second)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("a = %d, %v before its TTL", v, ok)
	}
	c.AddUntil("b", 2, clk.t.Add(time.Hour))
	clk.advance(time.Second) // a's TTL is up
	if _, ok := c.Get("a"); ok {
		t.Error("a served at its expiry")
	}
	if n, _ := c.Size(); n != 1 {
		t.Errorf("%d entries, want the expired one dropped on lookup", n)
	}
	if v, ok := c.Get("b"); !ok || v != 2 {
		t.Errorf("b = %d, %v; want its own hour", v, ok)
	}
	c.Add("a", 3) // a new TTL from now
	clk.advance(30 * time.Second)
	if v, ok := c.Get("a"); !ok || v != 3 {
		t.Errorf("re-added a = %d, %v", v, ok)
	}
	c.Remove("a")
	if _, ok := c.Get("a"); ok {
		t.Error("a served after Remove")
	}

	forever := New(Options[string, int]{Now: clk.now})
	forever.Add("x", 1)
	clk.advance(1000 * time.Hour)
	if _, ok := forever.Get("x"); !ok {
		t.Error("no TTL: the entry expired")
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c := New(Options[int, string]{MaxBytes: 500, MaxEntries: 40, Cost: func(_ int, v string) int64 { return int64(len(v)) }})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := (g*31 + i) % 100
				if i%3 == 0 {
					c.Get(k)
				} else {
					c.Add(k, strings.Repeat("v", k%20+1))
				}
			}
		})
	}
	wg.Wait()
	n, b := c.Size()
	var sum int64
	for _, v := range c.Values() {
		sum += int64(len(v))
	}
	if n > 40 || b > 500 || sum != b || len(c.Values()) != n {
		t.Errorf("%d entries of %d bytes (values sum to %d): bounds 40 and 500", n, b, sum)
	}
}
