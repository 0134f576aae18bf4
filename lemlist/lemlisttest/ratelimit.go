package lemlisttest

import (
	"math"
	"strconv"
	"time"
)

// limiter is one API key's sliding window. It is guarded by Server.mu.
type limiter struct {
	grants []time.Time // accepted requests inside the current window, oldest first
	max    int         // most grants ever seen inside one window
}

// admit records a request at now. With limit <= 0 every request is
// accepted (and still tracked for MaxInWindow). It returns whether the
// request is accepted, the remaining budget and when the oldest grant in
// the window leaves it.
func (l *limiter) admit(now time.Time, limit int, window time.Duration) (ok bool, remaining int, reset time.Time) {
	cut := now.Add(-window)
	i := 0
	for i < len(l.grants) && !l.grants[i].After(cut) {
		i++
	}
	l.grants = append(l.grants[:0], l.grants[i:]...)
	if limit > 0 && len(l.grants) >= limit {
		return false, 0, l.grants[0].Add(window)
	}
	l.grants = append(l.grants, now)
	l.max = max(l.max, len(l.grants))
	return true, max(limit-len(l.grants), 0), l.grants[0].Add(window)
}

// formatSeconds writes d as fractional seconds rounded up to the
// millisecond, the way lemlist's Retry-After reads ("0.651", "2").
func formatSeconds(d time.Duration) string {
	ms := math.Ceil(float64(d) / float64(time.Millisecond))
	if ms < 0 {
		ms = 0
	}
	return strconv.FormatFloat(ms/1000, 'f', -1, 64)
}

// formatJSDate writes t like JavaScript's Date.prototype.toString on a
// server running in UTC.
func formatJSDate(t time.Time) string {
	return t.UTC().Format("Mon Jan 02 2006 15:04:05 GMT-0700") + " (Coordinated Universal Time)"
}
