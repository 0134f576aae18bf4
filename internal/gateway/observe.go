package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
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
func (g *Gateway) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		done := g.o.Metrics.RequestStarted()
		defer done()
		ri := &requestInfo{id: requestID(r.Header.Get("X-Request-Id"))}
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
		// Each tenant may add only its share of operation names to the
		// labels, so one tenant's junk names cannot crowd out the others'.
		op := g.o.Metrics.OperationFor(ri.tenant, name)
		calls := int(ri.upstreamCalls.Load())
		g.o.Metrics.ObserveRequest(op, outcome, d, calls)
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
		if est := ri.estimate.Load(); est > 0 {
			// MAX_UPSTREAM_CALLS's price of the operation (budget.go).
			attrs = append(attrs, slog.Int64("upstream_estimate", est))
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
		g.o.Logger.LogAttrs(r.Context(), level, "request", attrs...)
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

// requestInfo is one HTTP request's bookkeeping, for its log line and its
// metrics. The middleware creates it; the authenticator, the GraphQL
// interceptors and the upstream transport fill it in.
type requestInfo struct {
	id     string // the request id, echoed in X-Request-Id
	tenant string // upstream.TenantID in pass-through mode, else ""

	// upstreamCalls counts the HTTP requests sent to lemlist on this
	// request's behalf, retries included; an upstream call shared by
	// several requests (the cache's coalescing) counts for the request
	// that made it.
	upstreamCalls atomic.Int64
	// estimate is the operation's price in upstream calls (budget.go):
	// the last operation's, for a websocket.
	estimate atomic.Int64

	mu             sync.Mutex
	operation      string // the operation name, "" if anonymous or unknown
	outcome        string // "ok" or the first error's code; "" if not set
	upstreamErrors int    // failed upstream calls, not-found answers aside
	firstError     string // the first one's text (lemlist redacts the key)
}

func (ri *requestInfo) setEstimate(n int) { ri.estimate.Store(int64(n)) }

// noteUpstreamError counts a failed call of the request's Upstream and
// keeps the first one's text for the log line.
func (ri *requestInfo) noteUpstreamError(err error) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	ri.upstreamErrors++
	if ri.firstError == "" {
		ri.firstError = err.Error()
	}
}

func (ri *requestInfo) errors() (n int, first string) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.upstreamErrors, ri.firstError
}

func (ri *requestInfo) setResult(operation, outcome string) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	ri.operation, ri.outcome = operation, outcome
}

func (ri *requestInfo) setOutcome(outcome string) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	ri.outcome = outcome
}

func (ri *requestInfo) result() (operation, outcome string) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.operation, ri.outcome
}

type requestInfoKey struct{}

func withInfo(ctx context.Context, ri *requestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

func infoFrom(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return ri
}
