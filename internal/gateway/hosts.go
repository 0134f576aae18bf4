package gateway

import (
	"net"
	"net/http"
	"slices"
	"strings"
)

// outcomeHostRefused is the outcome (and error code) of a request refused
// for its Host header.
const outcomeHostRefused = "HOST_NOT_ALLOWED"

// checkHost guards an open server (OpenAuth: no tokens) against DNS
// rebinding: a page on another site that rebinds its own name to
// 127.0.0.1 makes the browser send this server requests whose Host is that
// name, and could read the answers. With GuardHosts, such a server
// answers only Host values that name loopback (localhost, 127.0.0.0/8,
// [::1], any port) or one of AllowedHosts (any port; "*" allows every
// name), and 421 Misdirected Request to others, websocket upgrades
// included. Servers that authenticate their clients need no guard: a
// rebinding page has no credentials to send.
func (g *Gateway) checkHost(next http.Handler) http.Handler {
	if _, open := g.o.Auth.(openAuth); !open || !g.o.GuardHosts || slices.Contains(g.o.AllowedHosts, "*") {
		return next
	}
	allowed := map[string]bool{}
	for _, h := range g.o.AllowedHosts {
		allowed[hostName(h)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := hostName(r.Host)
		if isLoopbackName(h) || allowed[h] {
			next.ServeHTTP(w, r)
			return
		}
		writeError(w, r, http.StatusMisdirectedRequest, outcomeHostRefused,
			"this server has no client authentication and answers only for loopback names and ALLOWED_HOSTS; the Host header names neither")
	})
}

// hostName returns the host of a Host header value, without its port or
// brackets, lower-cased and without a trailing dot.
func hostName(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}

// isLoopbackName reports whether h (from hostName) names loopback:
// localhost, or a loopback address.
func isLoopbackName(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
