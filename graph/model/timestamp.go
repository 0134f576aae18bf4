package model

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// MinEpochMillis is the smallest number a Timestamp reads as epoch
// milliseconds (1973-03-03T09:46:40Z); smaller numbers are unix seconds
// (up to the year 5138).
const MinEpochMillis = 100_000_000_000

// maxEpochMillis is 9999-12-31T23:59:59.999Z.
const maxEpochMillis = maxUnixSeconds*1000 + 999

// Timestamp is an instant given as input: an ISO 8601 string (as
// ParseDate reads it), or unix seconds or epoch milliseconds as a number
// or a numeric string, told apart by MinEpochMillis.
type Timestamp struct {
	time.Time
}

// ParseTimestamp parses s as Timestamp does.
func ParseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if isDigits(s) && s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: %q is out of range", ErrBadDate, truncate(s, 40))
		}
		return epoch(n)
	}
	return ParseDate(s)
}

// epoch reads n as unix seconds below MinEpochMillis, else as epoch
// milliseconds.
func epoch(n int64) (time.Time, error) {
	if n < MinEpochMillis {
		return unixSeconds(n)
	}
	if n > maxEpochMillis {
		return time.Time{}, fmt.Errorf("%w: %d is out of range", ErrBadDate, n)
	}
	return time.UnixMilli(n).UTC(), nil
}

// UnmarshalGQL implements graphql.Unmarshaler.
func (ts *Timestamp) UnmarshalGQL(v any) error {
	var (
		t   time.Time
		err error
	)
	switch x := v.(type) {
	case string:
		t, err = ParseTimestamp(x)
	case json.Number:
		t, err = ParseTimestamp(string(x))
		if err != nil && !isDigits(string(x)) {
			return fmt.Errorf("%w: %q is not whole seconds or milliseconds", ErrBadDate, truncate(string(x), 40))
		}
	case int64:
		t, err = epoch(x)
	case int:
		t, err = epoch(int64(x))
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > maxEpochMillis {
			return fmt.Errorf("%w: %v is not whole seconds or milliseconds", ErrBadDate, x)
		}
		t, err = epoch(int64(x))
	default:
		return fmt.Errorf("%w: want an ISO 8601 string, unix seconds or epoch milliseconds, got %T", ErrBadDate, v)
	}
	if err != nil {
		return err
	}
	ts.Time = t
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (ts Timestamp) MarshalGQL(w io.Writer) {
	MarshalDateTime(ts.Time).MarshalGQL(w)
}
