package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/lemlist-graphql/server/metrics"
)

// Outcomes of requests refused before GraphQL runs.
const (
	outcomeTooLarge    = "PAYLOAD_TOO_LARGE"
	outcomeForbidden   = "CORS_FORBIDDEN"
	outcomeBadRequest  = "BAD_REQUEST"
	outcomePreflight   = "CORS_PREFLIGHT"
	maxRequestIDLength = 128
)

// observe gives each request an id (a valid X-Request-Id, or a new one),
// echoes it, and when the request ends writes its one log line and its
// metrics: operation, outcome, status, duration and upstream calls.
func (a *app) observe(next http.Handler) http.Handler {
	var seq atomic.Uint64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		done := a.metrics.RequestStarted()
		defer done()
		ri := &requestInfo{id: requestID(r.Header.Get("X-Request-Id"))}
		// The limiter's caller key: distinct per request even when
		// clients reuse request ids.
		ri.caller = strconv.FormatUint(seq.Add(1), 10)
		w.Header().Set("X-Request-Id", ri.id)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(withInfo(r.Context(), ri)))

		d := time.Since(start)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		name, outcome := ri.result()
		if outcome == "" {
			outcome = metrics.OutcomeOK
			if status >= 400 {
				outcome = outcomeBadRequest
			}
		}
		op := a.metrics.Operation(name)
		calls := int(ri.upstreamCalls.Load())
		a.metrics.ObserveRequest(op, outcome, d, calls)
		attrs := []slog.Attr{
			slog.String("request_id", ri.id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.String("operation", op),
			slog.String("outcome", metrics.Outcome(outcome)),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.Int("upstream_calls", calls),
			slog.Int64("bytes", rec.bytes),
		}
		if ri.tenant != "" {
			attrs = append(attrs, slog.String("tenant", ri.tenant))
		}
		if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() { // tracing on
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
		}
		level := slog.LevelInfo
		if n, first := ri.errors(); n > 0 {
			attrs = append(attrs, slog.Int("upstream_errors", n), slog.String("upstream_error", first))
			level = slog.LevelWarn
		}
		if status >= 500 {
			level = slog.LevelError
		}
		a.logger.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// requestID returns h if it is a usable request id (1 to 128 printable
// ASCII characters), else a new random one.
func requestID(h string) string {
	if h != "" && len(h) <= maxRequestIDLength {
		ok := true
		for i := 0; i < len(h); i++ {
			if h[i] < 0x20 || h[i] > 0x7e {
				ok = false
				break
			}
		}
		if ok {
			return h
		}
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusRecorder notes a response's status and size. It passes Flush on
// (SSE) and unwraps (websocket hijacking, http.ResponseController).
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// WriteHeader records the status. A second final status is dropped, as
// net/http would, without its "superfluous WriteHeader" log line (gqlgen's
// websocket transport writes one after a refused upgrade).
func (s *statusRecorder) WriteHeader(code int) {
	if code >= 200 {
		if s.status != 0 {
			return
		}
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Flush implements http.Flusher.
func (s *statusRecorder) Flush() {
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// writeError answers with a GraphQL-shaped error body:
// {"errors":[{"message":…,"extensions":{"code":…}}]}.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if ri := infoFrom(r.Context()); ri != nil {
		ri.setOutcome(code)
	}
	type gqlError struct {
		Message    string            `json:"message"`
		Extensions map[string]string `json:"extensions"`
	}
	body, _ := json.Marshal(struct {
		Errors []gqlError `json:"errors"`
	}{[]gqlError{{Message: msg, Extensions: map[string]string{"code": code}}}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// CORS settings beside the allowed origins.
const (
	corsAllowMethods  = "GET, POST, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, Accept, X-Request-Id, Apollo-Require-Preflight"
	corsExposeHeaders = "X-Request-Id"
	corsMaxAge        = "600"
)

// cors lets the browsers of the configured origins call next: it answers
// preflight requests and marks the allowed origins' responses. Without
// origins it adds nothing, and browsers allow same-origin calls only.
func (a *app) cors(next http.Handler) http.Handler {
	origins := a.cfg.CORSOrigins
	if len(origins) == 0 {
		return next
	}
	wildcard := slices.Contains(origins, "*")
	allowed := func(origin string) bool { return wildcard || slices.Contains(origins, origin) }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		ok := allowed(origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Add("Vary", "Access-Control-Request-Method")
			w.Header().Add("Vary", "Access-Control-Request-Headers")
			if !ok {
				writeError(w, r, http.StatusForbidden, outcomeForbidden, "origin not allowed")
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", allowOrigin(wildcard, origin))
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			if ri := infoFrom(r.Context()); ri != nil {
				ri.setOutcome(outcomePreflight)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if ok {
			w.Header().Set("Access-Control-Allow-Origin", allowOrigin(wildcard, origin))
			w.Header().Set("Access-Control-Expose-Headers", corsExposeHeaders)
		}
		next.ServeHTTP(w, r)
	})
}

func allowOrigin(wildcard bool, origin string) string {
	if wildcard {
		return "*"
	}
	return origin
}

// limitBody reads the request body up to the limit, answering 413 beyond
// it, so that no later reader sees a cut body.
func (a *app) limitBody(next http.Handler) http.Handler {
	limit := a.cfg.MaxBodyBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tooLarge := func() {
			w.Header().Set("Connection", "close")
			writeError(w, r, http.StatusRequestEntityTooLarge, outcomeTooLarge,
				fmt.Sprintf("request body exceeds %d bytes", limit))
		}
		if r.ContentLength > limit {
			tooLarge()
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
			if err != nil {
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					tooLarge()
					return
				}
				writeError(w, r, http.StatusBadRequest, outcomeBadRequest, "could not read the request body")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		next.ServeHTTP(w, r)
	})
}

// withDeadline bounds each request, upstream calls included. Websocket
// connections are long-lived: their operations are bounded one by one
// (see aroundOperations), and the server's read and write timeouts are
// lifted from them.
func withDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebsocket(r) || isEventStream(r) {
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Time{})
			_ = rc.SetWriteDeadline(time.Time{})
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
