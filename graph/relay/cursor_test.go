package relay

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lemlist-graphql/server/activityfilter"
)

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

var (
	cursorPins = []time.Time{
		time.UnixMilli(0).UTC(),
		time.UnixMilli(1).UTC(),
		time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		time.Date(2025, 3, 1, 12, 0, 0, 123_000_000, time.UTC),
		time.Date(2026, 11, 26, 23, 59, 59, 999_000_000, time.UTC),
		time.UnixMilli(maxPinMillis).UTC(),
	}
	cursorOffsets = []int{0, 1, 19, 63, 64, 127, 128, 16_383, 16_384, 1_000_000, MaxOffset - 1, MaxOffset}
	cursorFilters = []uint64{
		0, 1, math.MaxUint64, 1 << 63,
		activityfilter.Filter{}.Hash(),
		activityfilter.Filter{Type: "emailsReplied", CampaignID: "cam_bSn8EORHQxbWPjHvu"}.Hash(),
	}
)

// versionCursor mints a well-formed cursor (right checksum) with version
// byte v.
func versionCursor(v byte, off int, pin time.Time, hash uint64) string {
	b := []byte{v}
	b = binary.AppendUvarint(b, uint64(off))
	b = binary.AppendVarint(b, pin.UnixMilli())
	b = binary.BigEndian.AppendUint64(b, hash)
	b = binary.BigEndian.AppendUint32(b, checksum(b))
	return base64.RawURLEncoding.EncodeToString(b)
}

// rawCursor mints a cursor from arbitrary body bytes (after the version
// byte) with the right version and checksum.
func rawCursor(body ...byte) string {
	b := append([]byte{cursorVersion}, body...)
	b = binary.BigEndian.AppendUint32(b, checksum(b))
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	for _, off := range cursorOffsets {
		for _, pin := range cursorPins {
			for _, h := range cursorFilters {
				c := Cursor{Offset: off, Pin: pin, Filter: h}
				s := c.Encode()
				if s2 := c.Encode(); s2 != s {
					t.Fatalf("Encode not deterministic: %q, %q", s, s2)
				}
				if len(s) >= 40 {
					t.Errorf("%+v encodes to %d chars", c, len(s))
				}
				if strings.Trim(s, base64URLAlphabet) != "" {
					t.Errorf("%q is not base64url", s)
				}
				got, err := DecodeCursor(s)
				if err != nil {
					t.Fatalf("DecodeCursor(Encode(%+v)): %v", c, err)
				}
				if diff := cmp.Diff(c, got); diff != "" {
					t.Fatalf("round trip (-want +got):\n%s", diff)
				}
				if got.Pin.Location() != time.UTC {
					t.Errorf("pin location %v, want UTC", got.Pin.Location())
				}
			}
		}
	}
}

func TestCursorPinPrecision(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	pin := time.Date(2025, 3, 1, 13, 0, 0, 5_000_000, paris)
	got, err := DecodeCursor(Cursor{Offset: 3, Pin: pin, Filter: 9}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Pin.Equal(pin) || got.Pin.Location() != time.UTC {
		t.Errorf("pin %v, want %v in UTC", got.Pin, pin)
	}
	// Pins are milliseconds: anything finer is dropped.
	got, err = DecodeCursor(Cursor{Pin: pin.Add(999 * time.Microsecond)}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Pin.Equal(pin) {
		t.Errorf("pin %v, want %v", got.Pin, pin)
	}
}

func TestCursorLength(t *testing.T) {
	t.Parallel()
	longest := Cursor{Offset: MaxOffset, Pin: time.UnixMilli(maxPinMillis), Filter: math.MaxUint64}.Encode()
	if len(longest) >= 40 {
		t.Errorf("longest cursor %q is %d chars", longest, len(longest))
	}
	typical := Cursor{Offset: 250, Pin: time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC), Filter: activityfilter.Filter{Type: "emailsSent"}.Hash()}.Encode()
	if len(typical) > 30 {
		t.Errorf("typical cursor %q is %d chars", typical, len(typical))
	}
	t.Logf("longest %d chars, typical %d chars (%s)", len(longest), len(typical), typical)
}

func TestDecodeCursorErrors(t *testing.T) {
	t.Parallel()
	pin := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	valid := Cursor{Offset: 300, Pin: pin, Filter: 0xfeedface}.Encode()
	hash := binary.BigEndian.AppendUint64(nil, 0xfeedface)
	var std []byte
	for i := 0; i < 27; i++ {
		std = append(std, "+/"[i%2])
	}
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"space", " "},
		{"garbage", "garbage!!"},
		{"one char", "A"},
		{"too short", "AQAAAAAAAAAAAA"},
		{"too long", strings.Repeat("A", 65)},
		{"very long", strings.Repeat(valid, 100)},
		{"std alphabet", string(std)},
		{"padded", valid + "="},
		{"padded twice", valid + "=="},
		{"space inside", valid[:10] + " " + valid[10:]},
		{"truncated 1", valid[:len(valid)-1]},
		{"truncated 2", valid[:len(valid)-2]},
		{"truncated 4", valid[:len(valid)-4]},
		{"no first char", valid[1:]},
		{"extended", valid + "A"},
		{"extended 4", valid + "AAAA"},
		{"doubled", valid + valid},
		{"json", `{"offset":3}`},
		{"base64 of json", base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"offset":3,"pin":0}`))},
		{"version 0", versionCursor(0, 3, pin, 1)},
		{"version 2", versionCursor(2, 3, pin, 1)},
		{"version 255", versionCursor(255, 3, pin, 1)},
		{"offset too big", Cursor{Offset: MaxOffset + 1, Pin: pin}.Encode()},
		{"offset max int", Cursor{Offset: math.MaxInt, Pin: pin}.Encode()},
		{"offset negative", Cursor{Offset: -1, Pin: pin}.Encode()},
		{"pin negative", Cursor{Pin: time.UnixMilli(-1)}.Encode()},
		{"pin zero time", Cursor{}.Encode()},
		{"pin year 10000", Cursor{Pin: time.UnixMilli(maxPinMillis + 1)}.Encode()},
		{"pin varint truncated", rawCursor(0x05, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80)},
		{"offset varint overflow", rawCursor(append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02}, hash...)...)},
		{"overlong pin, short filter", rawCursor(append([]byte{0x05, 0x80, 0x80, 0x80}, make([]byte, 5)...)...)},
		{"filter 7 bytes", rawCursor(append([]byte{0x05, 0x02}, hash[:7]...)...)},
		{"filter 9 bytes", rawCursor(append([]byte{0x05, 0x02}, append(hash, 0)...)...)},
		{"overlong offset", rawCursor(append([]byte{0x85, 0x00, 0x02}, hash...)...)},
		{"newline inside", valid[:10] + "\n" + valid[10:]},
		{"trailing newline", valid + "\n"},
		{"crlf", valid[:5] + "\r\n" + valid[5:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := DecodeCursor(tc.in)
			if !errors.Is(err, errCursor) {
				t.Fatalf("DecodeCursor(%q) = %+v, %v; want an invalid cursor error", tc.in, c, err)
			}
			if c != (Cursor{}) {
				t.Errorf("cursor %+v with an error", c)
			}
		})
	}
}

// TestDecodeCursorMutations checks the documented promise: any string but
// one Encode made is refused, in particular every single-character edit of
// a real cursor.
func TestDecodeCursorMutations(t *testing.T) {
	t.Parallel()
	for _, c := range []Cursor{
		{Offset: 0, Pin: cursorPins[2], Filter: activityfilter.Filter{}.Hash()},
		{Offset: 127, Pin: cursorPins[3], Filter: 42},
		{Offset: 128, Pin: cursorPins[4], Filter: math.MaxUint64},
		{Offset: MaxOffset, Pin: cursorPins[5], Filter: 0},
		{Offset: 16_384, Pin: cursorPins[0], Filter: 1},
	} {
		s := c.Encode()
		try := func(kind string, m string) {
			t.Helper()
			if m == s {
				return
			}
			if got, err := DecodeCursor(m); err == nil {
				t.Errorf("%s of %q: %q decodes to %+v", kind, s, m, got)
			}
		}
		for i := range len(s) {
			for _, r := range base64URLAlphabet + "+/=.~ \n" {
				try("replacing", s[:i]+string(r)+s[i+1:])
				try("inserting", s[:i]+string(r)+s[i:])
			}
			try("deleting", s[:i]+s[i+1:])
			if i+1 < len(s) {
				try("swapping", s[:i]+s[i+1:i+2]+s[i:i+1]+s[i+2:])
			}
		}
	}
}

func BenchmarkCursorEncode(b *testing.B) {
	c := Cursor{Offset: 12_345, Pin: time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC), Filter: activityfilter.Filter{Type: "emailsSent"}.Hash()}
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Encode()
	}
}

func BenchmarkCursorDecode(b *testing.B) {
	s := Cursor{Offset: 12_345, Pin: time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC), Filter: activityfilter.Filter{Type: "emailsSent"}.Hash()}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeCursor(s); err != nil {
			b.Fatal(err)
		}
	}
}
