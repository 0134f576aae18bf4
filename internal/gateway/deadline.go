package gateway

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// withDeadline bounds each request to d, upstream calls included.
// Websocket connections are long-lived: their operations are bounded one
// by one (operation.go), and the server's read and write timeouts are
// lifted from them. An event stream (SSE) may carry a query or a
// subscription, which only the body says: it keeps the server's timeouts,
// its operation gets d from operation.go unless it is a subscription, and
// a subscription lifts the timeouts when it starts (liftDeadlines).
func withDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case isWebsocket(r):
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Time{})
			_ = rc.SetWriteDeadline(time.Time{})
			next.ServeHTTP(w, r)
		case isEventStream(r):
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), lifterKey{}, w)))
		default:
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		}
	})
}

type lifterKey struct{}

// liftDeadlines lifts the server's read and write timeouts from the event
// stream of ctx, if it is one: its subscription outlives them.
func liftDeadlines(ctx context.Context) {
	w, _ := ctx.Value(lifterKey{}).(http.ResponseWriter)
	if w == nil {
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}

// isWebsocket reports whether r asks for a websocket upgrade.
func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// isEventStream reports whether r asks for server-sent events (an
// operation over SSE): a subscription there must outlive the request
// deadline and the server's write timeout.
func isEventStream(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}
