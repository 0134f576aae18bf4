package relay

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/lemlist"
)

func FuzzDecodeCursor(f *testing.F) {
	for _, off := range cursorOffsets {
		for _, pin := range cursorPins[1:3] {
			f.Add(Cursor{Offset: off, Pin: pin, Filter: activityfilter.Filter{}.Hash()}.Encode())
		}
	}
	for _, s := range []string{
		"", "A", "AA", "AAA", "AAAA", "garbage!!", "AQ==", "____", "----",
		Cursor{Offset: MaxOffset + 1, Pin: cursorPins[2]}.Encode(),
		Cursor{Pin: time.UnixMilli(-1)}.Encode(),
		versionCursor(2, 3, cursorPins[2], 1),
		rawCursor(0x85, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8),
		Cursor{Offset: 3, Pin: cursorPins[2], Filter: 1}.Encode() + "\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeCursor(s)
		if err != nil {
			if !errors.Is(err, errCursor) {
				t.Fatalf("DecodeCursor(%q): %v does not wrap errCursor", s, err)
			}
			if c != (Cursor{}) {
				t.Fatalf("DecodeCursor(%q) = %+v with an error", s, c)
			}
			return
		}
		if c.Offset < 0 || c.Offset > MaxOffset || c.Pin.UnixMilli() < 0 || c.Pin.UnixMilli() > maxPinMillis {
			t.Fatalf("DecodeCursor(%q) = %+v out of range", s, c)
		}
		e := c.Encode()
		if e != s {
			t.Fatalf("DecodeCursor(%q) = %+v, which encodes to %q", s, c, e)
		}
		c2, err := DecodeCursor(e)
		if err != nil {
			t.Fatalf("re-encoded %q: %v", e, err)
		}
		if diff := cmp.Diff(c, c2); diff != "" {
			t.Fatalf("re-decoded (-want +got):\n%s", diff)
		}
	})
}

// Flags of FuzzPaginateArgs.
const (
	fzFirst     = 1 << iota // first is given
	fzLast                  // last is given
	fzAfter                 // after is given
	fzBefore                // before is given
	fzAfterRaw              // after is the raw string, else minted for afterOff
	fzBeforeRaw             // before is the raw string, else minted for beforeOff
	fzNeedNext              // NeedHasNextPage
	fzBeforeOld             // a minted before is pinned at an older row
)

func FuzzPaginateArgs(f *testing.F) {
	const maxSize = 120
	s := newSim(57, 99)
	s.quiet = true
	full := s.expect(f, activityfilter.Filter{})
	pin := pinOfList(full)
	oldPin := full[20].CreatedAt
	hash := activityfilter.Filter{}.Hash()

	for _, seed := range []struct {
		first, last         int
		flags               uint8
		afterOff, beforeOff uint16
		after, before       string
	}{
		{0, 0, 0, 0, 0, "", ""},
		{10, 0, fzFirst | fzNeedNext, 0, 0, "", ""},
		{57, 0, fzFirst | fzNeedNext, 0, 0, "", ""},
		{120, 0, fzFirst, 0, 0, "", ""},
		{121, 0, fzFirst, 0, 0, "", ""},
		{-1, 0, fzFirst, 0, 0, "", ""},
		{0, 10, fzLast, 0, 0, "", ""},
		{0, 120, fzLast, 0, 0, "", ""},
		{0, -5, fzLast, 0, 0, "", ""},
		{3, 3, fzFirst | fzLast, 0, 0, "", ""},
		{10, 0, fzFirst | fzAfter | fzNeedNext, 5, 0, "", ""},
		{10, 0, fzFirst | fzAfter | fzNeedNext, 46, 0, "", ""},
		{10, 0, fzFirst | fzAfter | fzNeedNext, 56, 0, "", ""},
		{10, 0, fzFirst | fzAfter | fzNeedNext, 60000, 0, "", ""},
		{0, 10, fzLast | fzAfter, 5, 0, "", ""},
		{0, 10, fzLast | fzAfter, 50, 0, "", ""},
		{0, 10, fzLast | fzAfter, 65535, 0, "", ""},
		{0, 10, fzLast | fzBefore, 0, 30, "", ""},
		{0, 100, fzLast | fzBefore, 0, 30, "", ""},
		{0, 10, fzLast | fzBefore, 0, 1000, "", ""},
		{10, 0, fzFirst | fzBefore, 0, 30, "", ""},
		{10, 0, fzFirst | fzAfter | fzBefore, 5, 30, "", ""},
		{0, 10, fzLast | fzAfter | fzBefore, 5, 30, "", ""},
		{10, 0, fzFirst | fzAfter | fzBefore, 30, 5, "", ""},
		{0, 10, fzLast | fzAfter | fzBefore, 30, 5, "", ""},
		{0, 0, fzAfter | fzBefore, 3, 40, "", ""},
		{0, 10, fzLast | fzBefore | fzBeforeOld, 0, 30, "", ""},
		{10, 0, fzFirst | fzAfter | fzBefore | fzBeforeOld, 3, 30, "", ""},
		{10, 0, fzFirst | fzAfter | fzAfterRaw, 0, 0, "garbage", ""},
		{10, 0, fzFirst | fzAfter | fzAfterRaw, 0, 0, "", ""},
		{0, 10, fzLast | fzBefore | fzBeforeRaw, 0, 0, "", "AAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{10, 0, fzFirst | fzAfter | fzAfterRaw, 0, 0, *cur(activityfilter.Filter{}, pin, 7), ""},
		{10, 0, fzFirst | fzAfter | fzAfterRaw, 0, 0, *cur(activityfilter.Filter{Type: "x"}, pin, 7), ""},
		{0, 10, fzLast | fzBefore | fzBeforeRaw, 0, 0, "", *cur(activityfilter.Filter{}, oldPin, 30)},
		{0, 10, fzLast | fzAfter | fzBefore | fzBeforeRaw, 2, 0, "", *cur(activityfilter.Filter{}, pin, 30)},
		{0, 10, fzLast | fzAfter | fzAfterRaw, 0, 0, *cur(activityfilter.Filter{}, pin, MaxOffset), ""},
		{math.MaxInt, 0, fzFirst, 0, 0, "", ""},
		{0, math.MinInt, fzLast, 0, 0, "", ""},
	} {
		f.Add(seed.first, seed.last, seed.flags, seed.afterOff, seed.beforeOff, seed.after, seed.before)
	}

	type arg struct {
		set, valid bool
		c          Cursor
		s          *string
	}
	mkArg := func(set, raw bool, off uint16, str string, p time.Time) arg {
		if !set {
			return arg{}
		}
		if !raw {
			c := Cursor{Offset: int(off), Pin: p.UTC(), Filter: hash}
			return arg{set: true, valid: true, c: c, s: sp(c.Encode())}
		}
		c, err := DecodeCursor(str)
		return arg{set: true, valid: err == nil && c.Filter == hash, c: c, s: &str}
	}

	f.Fuzz(func(t *testing.T, first, last int, flags uint8, afterOff, beforeOff uint16, afterRaw, beforeRaw string) {
		has := func(b uint8) bool { return flags&b != 0 }
		beforePin := pin
		if has(fzBeforeOld) {
			beforePin = oldPin
		}
		after := mkArg(has(fzAfter), has(fzAfterRaw), afterOff, afterRaw, pin)
		before := mkArg(has(fzBefore), has(fzBeforeRaw), beforeOff, beforeRaw, beforePin)
		r := &Request{DefaultSize: 10, MaxSize: maxSize, Concurrency: 3, NeedHasNextPage: has(fzNeedNext)}
		if has(fzFirst) {
			r.First = &first
		}
		if has(fzLast) {
			r.Last = &last
		}
		r.After, r.Before = after.s, before.s

		var calls atomic.Int64
		lister := func(ctx context.Context, o *lemlist.ActivityListOptions) ([]*lemlist.Activity, error) {
			calls.Add(1)
			return s.list(ctx, o)
		}
		p, err := Paginate(context.Background(), lister, r)

		bad := func(set bool, v int) bool { return set && (v < 0 || v > maxSize) }
		wantErr := (r.First != nil && r.Last != nil) || bad(r.First != nil, first) || bad(r.Last != nil, last) ||
			(after.set && !after.valid) || (before.set && !before.valid) ||
			(after.set && before.set && !after.c.Pin.Equal(before.c.Pin))
		if wantErr {
			var ie *activityfilter.InputError
			if !errors.As(err, &ie) || p != nil {
				t.Fatalf("Paginate(%s) = %+v, %v; want an *activityfilter.InputError", describe(r), p, err)
			}
			if n := calls.Load(); n != 0 {
				t.Fatalf("Paginate(%s): %d upstream calls before %v", describe(r), n, err)
			}
			return
		}

		// The reference: Relay's algorithm on the list pinned by the cursors.
		list, effPin := full, pin
		if c := after; c.set || before.set {
			if !c.set {
				c = before
			}
			effPin = c.c.Pin
			list = nil
			for _, a := range full {
				if !a.CreatedAt.After(effPin) {
					list = append(list, a)
				}
			}
		}
		l := len(list)
		lo, hi := 0, -1
		if after.set {
			lo = after.c.Offset + 1
		}
		if before.set {
			hi = max(before.c.Offset, lo)
		}
		n := r.DefaultSize
		switch {
		case r.Last != nil:
			n = last
		case r.First != nil:
			n = first
		}
		if r.Last != nil && hi < 0 && lo > MaxOffset {
			// A forged cursor at MaxOffset: the end cannot be searched.
			if err == nil || calls.Load() != 0 {
				t.Fatalf("Paginate(%s) = %v, want an error without calls", describe(r), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Paginate(%s): %v", describe(r), err)
		}
		var start, end int
		var hasPrev, hasNext bool
		checkNext := true
		if r.Last == nil {
			start, end = lo, lo+n
			if hi >= 0 {
				end = min(end, hi)
			}
			hasPrev = after.set
			switch {
			case hi >= 0:
				hasNext = end < hi // more than first rows between the cursors
			case r.NeedHasNextPage:
				hasNext = l > end
			default:
				checkNext = false
			}
		} else {
			end = hi
			if end < 0 {
				end = max(l, lo)
			}
			start = max(lo, end-n)
			hasPrev, hasNext = start > lo, before.set
		}
		if diff := cmp.Diff(ids(sub(list, start, end)), ids(p.Rows)); diff != "" {
			t.Fatalf("Paginate(%s) rows (-want +got):\n%s", describe(r), diff)
		}
		if p.HasPreviousPage != hasPrev || (checkNext && p.HasNextPage != hasNext) {
			t.Fatalf("Paginate(%s): hasPrev=%v hasNext=%v, want %v %v", describe(r), p.HasPreviousPage, p.HasNextPage, hasPrev, hasNext)
		}
		if len(p.Rows) > 0 {
			checkCursors(t, p, activityfilter.Filter{}, start, effPin)
		}
	})
}
