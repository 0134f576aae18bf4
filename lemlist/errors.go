package lemlist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrorResponse is a non-2xx answer other than 429.
//
// lemlist's classic routes answer errors in text/plain ("Lead not found"),
// newer ones in JSON; Message holds the human text from either.
type ErrorResponse struct {
	// Response is the upstream response; its body has been read and closed.
	Response *http.Response
	// StatusCode is the HTTP status, e.g. 404.
	StatusCode int
	// Method is the request's method, e.g. "POST"; empty for GET.
	Method string
	// Endpoint is the route template, e.g. "campaigns/{id}".
	Endpoint string
	// Code is the machine code of a JSON error body
	// ({"error":{"code":"…"}}), or "".
	Code string
	// Message is the error text lemlist sent, or the status text.
	Message string
}

// Error returns "lemlist: GET <endpoint>: <status> <message>" (with the
// request's method).
func (e *ErrorResponse) Error() string {
	return fmt.Sprintf("lemlist: %s %s: %d %s", methodOr(e.Method), e.Endpoint, e.StatusCode, e.Message)
}

// methodOr returns m, or GET when m is empty.
func methodOr(m string) string {
	if m == "" {
		return http.MethodGet
	}
	return m
}

// ErrRateLimitWait is matched (with errors.Is) by the *RateLimitError a
// Limiter returns when the caller's deadline comes before it could be
// granted a request slot: known at once, or found when the deadline passed
// while the call waited. No request was sent for that attempt.
var ErrRateLimitWait = errors.New("lemlist: rate limit wait would pass the deadline")

// RateLimitError reports that a call was rate limited: either lemlist answered
// 429, or the client's own Limiter could not grant a slot before the ctx
// deadline (then Response is nil and errors.Is(err, ErrRateLimitWait) holds).
type RateLimitError struct {
	// Response is the 429 response, or nil when no request was sent.
	Response *http.Response
	// Method is the request's method, e.g. "POST"; empty for GET.
	Method string
	// Endpoint is the route template, e.g. "activities"; "" when the error
	// comes from a Limiter used on its own.
	Endpoint string
	// RetryAfter is how long to wait before the next call; 0 when unknown.
	RetryAfter time.Duration
}

// Error describes the limit and the wait.
func (e *RateLimitError) Error() string {
	prefix := "lemlist: "
	if e.Endpoint != "" {
		prefix = "lemlist: " + methodOr(e.Method) + " " + e.Endpoint + ": "
	}
	if e.Response == nil {
		return fmt.Sprintf("%srate limit: no request slot before the deadline (next in %s)", prefix, e.RetryAfter)
	}
	return fmt.Sprintf("%s429 rate limited (retry after %s)", prefix, e.RetryAfter)
}

// Is reports whether target is ErrRateLimitWait and no request was sent.
func (e *RateLimitError) Is(target error) bool {
	return target == ErrRateLimitWait && e.Response == nil
}

// DecodeError is a 2xx answer whose body is not what the endpoint returns:
// not JSON at all (lemlist answers unknown paths with its web app's HTML and
// status 200), truncated or malformed JSON, or JSON of the wrong shape (such
// as {} where a list is expected, lemlist's answer to an unknown type filter).
type DecodeError struct {
	// Method is the request's method, e.g. "POST"; empty for GET.
	Method string
	// Endpoint is the route template, e.g. "activities".
	Endpoint string
	// Status is the HTTP status.
	Status int
	// ContentType is the Content-Type header.
	ContentType string
	// Snippet is the start of the body, shortened and sanitized.
	Snippet string
	// Err is the cause: a *json.SyntaxError for malformed or truncated JSON,
	// a *json.UnmarshalTypeError or a shape error for the wrong shape.
	Err error
}

// Error names the endpoint, the cause and the start of the body.
func (e *DecodeError) Error() string {
	ct := ""
	if e.ContentType != "" {
		ct = " (" + e.ContentType + ")"
	}
	return fmt.Sprintf("lemlist: %s %s: cannot decode %d response%s: %v; body starts %q",
		methodOr(e.Method), e.Endpoint, e.Status, ct, e.Err, e.Snippet)
}

// Unwrap returns Err.
func (e *DecodeError) Unwrap() error { return e.Err }

// malformed reports whether the body was cut or garbled JSON, which may be a
// transient fault worth one retry, rather than a deterministic wrong answer.
func (e *DecodeError) malformed() bool {
	var se *json.SyntaxError
	return errors.As(e.Err, &se)
}

// errNotJSON is the DecodeError cause for a body that is no JSON object or
// array, typically an HTML page.
var errNotJSON = errors.New("not a JSON object or array")

// transportError is a failure to send a request or to read its answer.
type transportError struct {
	method   string // "" for GET
	endpoint string
	err      error
}

func (e *transportError) Error() string {
	return "lemlist: " + methodOr(e.method) + " " + e.endpoint + ": " + e.err.Error()
}
func (e *transportError) Unwrap() error { return e.err }

// StatusCode returns the HTTP status carried by err: that of an
// *ErrorResponse or a *DecodeError, 429 for a *RateLimitError from lemlist,
// and 0 for anything else (transport errors, local rate limiting, ctx errors).
func StatusCode(err error) int {
	if e, ok := errors.AsType[*ErrorResponse](err); ok {
		return e.StatusCode
	}
	if e, ok := errors.AsType[*RateLimitError](err); ok && e.Response != nil {
		return http.StatusTooManyRequests
	}
	if e, ok := errors.AsType[*DecodeError](err); ok {
		return e.Status
	}
	return 0
}

// IsNotFound reports whether err is lemlist's 404 ("Lead not found",
// "Campaign not found", …).
func IsNotFound(err error) bool { return StatusCode(err) == http.StatusNotFound }

// errorText extracts a human message, and a machine code when there is one,
// from an error body: {"error":{"code":"X","message":"…"}}, {"message":"…"},
// {"error":"…"}, a JSON string, or plain text. An empty or HTML body yields
// "".
func errorText(body []byte) (code, msg string) {
	b := bytes.TrimSpace(body)
	switch {
	case len(b) == 0 || b[0] == '<':
		return "", ""
	case b[0] == '"':
		var s string
		if json.Unmarshal(b, &s) == nil {
			return "", clean(s, 300)
		}
	case b[0] == '{':
		var v struct {
			Message string          `json:"message"`
			Error   json.RawMessage `json:"error"`
		}
		if json.Unmarshal(b, &v) == nil {
			var inner struct{ Code, Message string }
			var s string
			switch {
			case json.Unmarshal(v.Error, &inner) == nil && (inner.Code != "" || inner.Message != ""):
				return clean(inner.Code, 100), clean(inner.Message, 300)
			case json.Unmarshal(v.Error, &s) == nil && s != "":
				return "", clean(s, 300)
			case v.Message != "":
				return "", clean(v.Message, 300)
			}
		}
	}
	return "", clean(string(b), 300)
}

// clean makes s safe and short for an error string: valid UTF-8, no control
// characters, runs of white space collapsed, at most n bytes.
func clean(s string, n int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// maxRetryAfter bounds a Retry-After value, guarding against absurd headers.
const maxRetryAfter = time.Hour

// parseRetryAfter reads a Retry-After header: fractional seconds as lemlist
// sends them ("0.651"), integer seconds, or an HTTP date. Missing, invalid or
// past values give 0.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.ParseFloat(h, 64); err == nil {
		if !(s > 0) || math.IsInf(s, 1) {
			return 0
		}
		d = time.Duration(math.Round(min(s, maxRetryAfter.Seconds()) * float64(time.Second)))
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
