package model

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestTimestampFormats(t *testing.T) {
	t.Parallel()
	want := time.Date(2026, 5, 11, 8, 7, 38, 0, time.UTC)
	ms := want.Add(375 * time.Millisecond)
	for _, c := range []struct {
		in   any
		want time.Time
	}{
		{want.Unix(), want},
		{int(want.Unix()), want},
		{float64(want.Unix()), want},
		{json.Number("1778486858"), want},
		{"1778486858", want},
		{ms.UnixMilli(), ms},
		{json.Number("1778486858375"), ms},
		{"1778486858375", ms},
		{float64(ms.UnixMilli()), ms},
		{"2026-05-11T08:07:38.375Z", ms},
		{"2026-05-11T10:07:38+02:00", want},
		{"2026-05-11", time.Date(2026, 5, 11, 0, 0, 0, 0, time.UTC)},
		// Just below the boundary: seconds (year 5138); at it: milliseconds.
		{int64(MinEpochMillis - 1), time.Unix(MinEpochMillis-1, 0).UTC()},
		{int64(MinEpochMillis), time.UnixMilli(MinEpochMillis).UTC()},
	} {
		var ts Timestamp
		if err := ts.UnmarshalGQL(c.in); err != nil || !ts.Equal(c.want) {
			t.Errorf("%T %v: %v, %v; want %v", c.in, c.in, ts.Time, err, c.want)
		}
	}
	for _, in := range []any{"banana", "", -1, 1.5, json.Number("1.5"), "99999999999999999999", int64(maxEpochMillis + 1), true} {
		var ts Timestamp
		if err := ts.UnmarshalGQL(in); !errors.Is(err, ErrBadDate) {
			t.Errorf("%T %v: %v, want ErrBadDate", in, in, err)
		}
	}
}
