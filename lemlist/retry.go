package lemlist

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// RetryPolicy says how calls are retried. A GET is safe to repeat, so it is
// retried on 429 (after Retry-After), on 5xx, on transport errors
// (connection failures, resets, attempt timeouts) and once on a malformed or
// truncated body; never on another 4xx or on a well-formed body of the wrong
// shape. The few other calls (the hooks' POST and DELETE) are retried on 429
// only, which lemlist answers without acting on the request.
//
// Before retry k the client waits Retry-After for a 429, else a random
// duration in [0, min(MaxDelay, BaseDelay·2^(k-1))] ("full jitter"). A wait
// that would pass the ctx deadline is not started: the call returns its last
// error instead (a *RateLimitError after a 429).
type RetryPolicy struct {
	// MaxAttempts is the most attempts per call, the first included;
	// 1 disables retries. Zero means 4.
	MaxAttempts int
	// BaseDelay is the first backoff ceiling. Zero means 100ms.
	BaseDelay time.Duration
	// MaxDelay caps the backoff ceiling. Zero means 2s.
	MaxDelay time.Duration
}

// withDefaults fills zero fields and validates the policy.
func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	if p.MaxAttempts < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 {
		return p, fmt.Errorf("lemlist: negative value in %+v", p)
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 4
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = 100 * time.Millisecond
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = 2 * time.Second
	}
	if p.MaxDelay < p.BaseDelay {
		return p, fmt.Errorf("lemlist: retry MaxDelay %s below BaseDelay %s", p.MaxDelay, p.BaseDelay)
	}
	return p, nil
}

// backoff returns the jittered wait before retry k (k >= 1).
func (p RetryPolicy) backoff(k int) time.Duration {
	ceil := p.BaseDelay
	for i := 1; i < k && ceil < p.MaxDelay; i++ {
		ceil *= 2
	}
	return rand.N(min(ceil, p.MaxDelay) + 1)
}

// Retry reasons, as reported to Observer.Retry.
const (
	reasonRateLimited = "rate_limited"
	reasonServer      = "server_error"
	reasonTransport   = "transport"
	reasonDecode      = "decode"
)

// classify returns why err deserves retry k and the wait before it; reason is
// "" when err is final.
func (p RetryPolicy) classify(err error, k int) (reason string, wait time.Duration) {
	if e, ok := errors.AsType[*RateLimitError](err); ok {
		if e.Response == nil { // the local limiter gave up on the deadline
			return "", 0
		}
		return reasonRateLimited, pauseFor(e.RetryAfter)
	}
	if e, ok := errors.AsType[*ErrorResponse](err); ok {
		if e.StatusCode >= http.StatusInternalServerError {
			return reasonServer, p.backoff(k)
		}
		return "", 0
	}
	if e, ok := errors.AsType[*DecodeError](err); ok {
		if e.malformed() {
			return reasonDecode, p.backoff(k)
		}
		return "", 0
	}
	if _, ok := errors.AsType[*transportError](err); ok {
		return reasonTransport, p.backoff(k)
	}
	return "", 0
}

// defaultPause is how long the limiter pauses when lemlist reports the budget
// spent without a Retry-After.
const defaultPause = time.Second

func pauseFor(retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	return defaultPause
}

// fitsDeadline reports whether waiting d leaves ctx's deadline ahead.
func fitsDeadline(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Now().Add(d).Before(dl)
}

// sleep waits d or until ctx is done, returning ctx.Err() in that case.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
