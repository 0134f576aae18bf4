package gateway

import (
	"net/http"
	"slices"
)

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
func (g *Gateway) cors(next http.Handler) http.Handler {
	origins := g.o.CORSOrigins
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
