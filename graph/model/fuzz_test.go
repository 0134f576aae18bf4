package model

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// minDateTime and maxDateTime bound every date ParseDate and DateInput
// accept: 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z.
var (
	minDateTime = time.Unix(0, 0).UTC()
	maxDateTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// checkDate checks what every accepted date must be: UTC, inside
// 1970..9999 (the bounds lemlist's unix seconds can express).
func checkDate(t *testing.T, in any, got time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Fatalf("%#v: got %v in %v, want UTC", in, got, got.Location())
	}
	if got.Before(minDateTime) || got.After(maxDateTime) || got.Year() < 1970 || got.Year() > 9999 {
		t.Fatalf("%#v: got %v, outside 1970..9999", in, got)
	}
}

// checkErr checks what every rejection must be: an ErrBadDate whose
// message is valid UTF-8 (it is shown to the client) and bounded, however
// long the input (40 quoted bytes, each up to 4 characters, plus text).
func checkErr(t *testing.T, in any, err error) {
	t.Helper()
	if !errors.Is(err, ErrBadDate) {
		t.Fatalf("%#v: error %v does not wrap ErrBadDate", in, err)
	}
	if msg := err.Error(); !utf8.ValidString(msg) || len(msg) > 300 {
		t.Fatalf("%#v: error message %q is invalid UTF-8 or too long", in, msg)
	}
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{
		"", " ", "0", "1", "00000000001", "1715385600", " 1715385600\n", "1715385600000",
		"253402300799", "253402300800", "9223372036854775807", "9223372036854775808",
		"99999999999999999999", "-1", "+1", "1.5", "1e9", "0x10",
		"2026-05-11", "2026-05-11T12:00", "2026-05-11T12:00:00", "2026-05-11T12:00:00.123456789",
		"2026-05-11T12:00:00Z", "2026-05-11T12:00:00.5Z", "2026-05-11T12:00:00+02:00",
		"2026-05-11T12:00:00.000-07:30", "2026-13-01", "2026-02-30", "2026-05-11T25:00:00Z",
		"1970-01-01", "1969-12-31", "1970-01-01T00:00:00Z", "1970-01-01T00:30:00+01:00",
		"9999-12-31", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-01:00", "10000-01-01",
		"0000-01-01T00:00:00Z", "2026-05-11t12:00:00z", "2026-05-11 12:00:00",
		"yesterday", "12:00", "\u00a02026-05-11\u2003", "2026-05-11T12:00:00Z\x00",
		strings.Repeat("é", 30), strings.Repeat("9", 400),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseDate(s)
		if err != nil {
			checkErr(t, s, err)
			if !got.IsZero() {
				t.Fatalf("%q: error %v with a non-zero time %v", s, err, got)
			}
			return
		}
		checkDate(t, s, got)
		if trimmed := strings.TrimSpace(s); isDigits(trimmed) {
			n, err := strconv.ParseInt(trimmed, 10, 64)
			if err != nil {
				t.Fatalf("%q: accepted digits that are no int64: %v", s, err)
			}
			if !got.Equal(time.Unix(n, 0)) || got.Nanosecond() != 0 {
				t.Fatalf("%q: got %v, want unix seconds %d", s, got, n)
			}
		}
		// An accepted date read back from its own RFC 3339 form is the same
		// instant: what the client sends upstream means what it parsed.
		again, err := ParseDate(got.Format(time.RFC3339Nano))
		if err != nil || !again.Equal(got) {
			t.Fatalf("%q: %v re-parses as %v, %v", s, got, again, err)
		}
	})
}

// Kinds of DateInput value FuzzDateInputUnmarshal builds, as gqlgen passes
// them: a String literal or variable, a variable number (json.Number), an
// Int literal (int64), a Float literal (float64).
const (
	kindString = iota
	kindNumber
	kindInt64
	kindFloat64
	kindInt
	kindCount
)

func FuzzDateInputUnmarshal(f *testing.F) {
	add := func(kind uint8, s string, i int64, x float64) { f.Add(kind, s, i, x) }
	add(kindString, "2026-05-11", 0, 0)
	add(kindString, "1715385600", 0, 0)
	add(kindString, "", 0, 0)
	add(kindString, "9999-12-31T23:59:59-05:00", 0, 0)
	add(kindNumber, "1715385600", 0, 0)
	add(kindNumber, "-5", 0, 0)
	add(kindNumber, "1.5", 0, 0)
	add(kindNumber, "1e9", 0, 0)
	add(kindNumber, "253402300800", 0, 0)
	add(kindNumber, "99999999999999999999", 0, 0)
	add(kindNumber, "not a number", 0, 0)
	add(kindInt64, "", 0, 0)
	add(kindInt64, "", -1, 0)
	add(kindInt64, "", maxUnixSeconds, 0)
	add(kindInt64, "", maxUnixSeconds+1, 0)
	add(kindInt64, "", math.MaxInt64, 0)
	add(kindInt64, "", math.MinInt64, 0)
	add(kindFloat64, "", 0, 1715385600)
	add(kindFloat64, "", 0, 1.5)
	add(kindFloat64, "", 0, -0.0)
	add(kindFloat64, "", 0, math.NaN())
	add(kindFloat64, "", 0, math.Inf(1))
	add(kindFloat64, "", 0, math.Inf(-1))
	add(kindFloat64, "", 0, 9.3e18)
	add(kindFloat64, "", 0, -9.223372036854775808e18)
	add(kindFloat64, "", 0, 253402300799)
	add(kindFloat64, "", 0, 253402300800)
	add(kindInt, "", 1715385600, 0)
	add(kindCount, "", 0, 0) // an unsupported type (bool)
	f.Fuzz(func(t *testing.T, kind uint8, s string, i int64, x float64) {
		var in any
		switch kind % (kindCount + 1) {
		case kindString:
			in = s
		case kindNumber:
			in = json.Number(s)
		case kindInt64:
			in = i
		case kindFloat64:
			in = x
		case kindInt:
			in = int(i)
		default:
			in = i%2 == 0
		}
		var d DateInput
		err := d.UnmarshalGQL(in)
		if err != nil {
			checkErr(t, in, err)
			if !d.IsZero() {
				t.Fatalf("%#v: error %v, yet the input was set to %v", in, err, d.Time)
			}
			return
		}
		checkDate(t, in, d.Time)
		// Numbers are whole unix seconds, and agree with the same digits
		// given as a string.
		var n int64
		switch v := in.(type) {
		case string:
			want, err := ParseDate(v)
			if err != nil || !want.Equal(d.Time) {
				t.Fatalf("%q: UnmarshalGQL gives %v, ParseDate %v, %v", v, d.Time, want, err)
			}
			return
		case bool:
			t.Fatalf("%v: a bool was accepted", v)
		case json.Number:
			n, err = v.Int64()
			if err != nil {
				t.Fatalf("%q: accepted, but it is no int64", v)
			}
		case int64:
			n = v
		case int:
			n = int64(v)
		case float64:
			if v != math.Trunc(v) {
				t.Fatalf("%v: accepted a fractional number", v)
			}
			n = int64(v)
		}
		if n < 0 || n > maxUnixSeconds || !d.Equal(time.Unix(n, 0)) {
			t.Fatalf("%#v: got %v, want unix seconds %d in range", in, d.Time, n)
		}
		digits := strconv.FormatInt(n, 10)
		if want, err := ParseDate(digits); err != nil || !want.Equal(d.Time) {
			t.Fatalf("%#v: %v, but the string %q gives %v, %v", in, d.Time, digits, want, err)
		}
	})
}

// The seed corpus doubles as a table test of the boundaries.
func TestParseDateBounds(t *testing.T) {
	for s, ok := range map[string]bool{
		"0":                         true,
		"253402300799":              true,
		"253402300800":              false,
		"1970-01-01T00:00:00Z":      true,
		"1970-01-01T00:30:00+01:00": false, // 1969-12-31T23:30Z
		"9999-12-31T23:59:59Z":      true,
		"9999-12-31T23:59:59-01:00": false, // 10000-01-01T00:59:59Z
		"9999-12-31T23:59:59+01:00": true,
	} {
		_, err := ParseDate(s)
		if (err == nil) != ok {
			t.Errorf("ParseDate(%q): err %v, want ok=%v", s, err, ok)
		}
	}
}
