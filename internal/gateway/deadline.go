package gateway

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// withDeadline bounds each request to d, upstream calls included.
// Websocket connections and event streams are long-lived: their operations
// are bounded one by one (operation.go), and the server's read and write
// timeouts are lifted from them.
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

// isWebsocket reports whether r asks for a websocket upgrade.
func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// isEventStream reports whether r asks for server-sent events (a GraphQL
// subscription over SSE): like a websocket, it must outlive the request
// deadline and the server's write timeout.
func isEventStream(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}
