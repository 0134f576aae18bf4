package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/metrics"
)

// MetricsHandler serves m's /metrics. With a token (METRICS_TOKEN), only
// to requests bearing it (Authorization: Bearer <token>, compared in
// constant time as client tokens are), and 401 to others; without one, to
// all. The server uses it on the main port and on METRICS_ADDR alike.
func MetricsHandler(m *metrics.Metrics, token string) http.Handler {
	h := m.Handler()
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r.Header.Get("Authorization"))
		got := sha256.Sum256([]byte(tok))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer `+realm)
			writeError(w, r, http.StatusUnauthorized, graph.CodeUnauthenticated, "/metrics needs Authorization: Bearer <METRICS_TOKEN>")
			return
		}
		h.ServeHTTP(w, r)
	})
}
