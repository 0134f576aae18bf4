package lemlist

import "time"

// Observer receives the client's metrics. endpoint is always a route
// template such as "activities", "leads", "contacts", "campaigns/{id}" or
// "team": never an id, never the API key. Methods run on the calling
// goroutine, so they must be fast and safe for concurrent use.
type Observer interface {
	// Request reports one HTTP attempt: its status (0 when no response
	// arrived), its 1-based number and its duration, body read included.
	Request(endpoint string, status int, attempt int, d time.Duration)
	// Retry reports that a call is about to be retried, for reason
	// "rate_limited" (429), "server_error" (5xx), "transport" (connection
	// error or attempt timeout) or "decode" (malformed or truncated body).
	Retry(endpoint string, reason string)
	// RateLimitWait reports the time an attempt spent in Limiter.Wait.
	RateLimitWait(d time.Duration)
}

// NopObserver is an Observer that discards everything.
type NopObserver struct{}

// Request does nothing.
func (NopObserver) Request(string, int, int, time.Duration) {}

// Retry does nothing.
func (NopObserver) Retry(string, string) {}

// RateLimitWait does nothing.
func (NopObserver) RateLimitWait(time.Duration) {}
