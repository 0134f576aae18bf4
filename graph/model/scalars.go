package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
)

// DateTimeLayout is how DateTime values are written: RFC 3339 in UTC with
// milliseconds, as lemlist writes them.
const DateTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalDateTime writes t as an RFC 3339 string with milliseconds in UTC.
func MarshalDateTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		var buf [40]byte
		b := append(buf[:0], '"')
		b = t.UTC().AppendFormat(b, DateTimeLayout)
		b = append(b, '"')
		_, _ = w.Write(b)
	})
}

// UnmarshalDateTime reads an RFC 3339 string.
func UnmarshalDateTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("DateTime must be an RFC 3339 string, got %T", v)
	}
	return time.Parse(time.RFC3339Nano, s)
}

// JSON is a raw JSON value passed through untouched.
type JSON = json.RawMessage

// MarshalJSON writes the raw bytes as they are.
func MarshalJSON(v json.RawMessage) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		if len(v) == 0 {
			_, _ = io.WriteString(w, "null")
			return
		}
		_, _ = w.Write(v)
	})
}

// UnmarshalJSON accepts any input value and keeps it as JSON.
func UnmarshalJSON(v any) (json.RawMessage, error) {
	return json.Marshal(v)
}

// DateInput is a date given as input: an ISO 8601 string, or unix seconds
// as an Int or a numeric string, as lemlist accepts.
type DateInput struct {
	time.Time
}

// ErrBadDate is wrapped by every DateInput parse error.
var ErrBadDate = errors.New("invalid date")

// ParseDate parses s as unix seconds or ISO 8601 (RFC 3339 with or without
// fractional seconds, a date-time without zone taken as UTC, or a bare date).
func ParseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("%w: empty", ErrBadDate)
	}
	if isDigits(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: %q is out of range", ErrBadDate, truncate(s, 40))
		}
		return unixSeconds(n)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			// The range applies in UTC: 9999-12-31T23:00:00-02:00 is in
			// year 10000, 1970-01-01T00:30:00+01:00 before the epoch.
			t = t.UTC()
			if t.Year() < 1970 || t.Year() > 9999 {
				return time.Time{}, fmt.Errorf("%w: %q is out of range", ErrBadDate, truncate(s, 40))
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q is neither ISO 8601 nor unix seconds", ErrBadDate, truncate(s, 40))
}

// maxUnixSeconds is 9999-12-31T23:59:59Z.
const maxUnixSeconds = 253402300799

func unixSeconds(n int64) (time.Time, error) {
	if n < 0 || n > maxUnixSeconds {
		return time.Time{}, fmt.Errorf("%w: %d is out of range", ErrBadDate, n)
	}
	return time.Unix(n, 0).UTC(), nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// truncate shortens s to at most n bytes, cutting on a rune boundary so an
// error message quoting it stays valid UTF-8.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// UnmarshalGQL implements graphql.Unmarshaler.
func (d *DateInput) UnmarshalGQL(v any) error {
	var (
		t   time.Time
		err error
	)
	switch x := v.(type) {
	case string:
		t, err = ParseDate(x)
	case json.Number:
		var n int64
		n, err = x.Int64()
		if err != nil {
			return fmt.Errorf("%w: %q is not whole unix seconds", ErrBadDate, truncate(string(x), 40))
		}
		t, err = unixSeconds(n)
	case int64:
		t, err = unixSeconds(x)
	case int:
		t, err = unixSeconds(int64(x))
	case float64:
		if x != float64(int64(x)) {
			return fmt.Errorf("%w: %v is not whole unix seconds", ErrBadDate, x)
		}
		t, err = unixSeconds(int64(x))
	default:
		return fmt.Errorf("%w: want an ISO 8601 string or unix seconds, got %T", ErrBadDate, v)
	}
	if err != nil {
		return err
	}
	d.Time = t
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (d DateInput) MarshalGQL(w io.Writer) {
	MarshalDateTime(d.Time).MarshalGQL(w)
}
