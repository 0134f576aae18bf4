package web

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// Issue 13, item 11: the page does not persist headers (tokens, keys) in
// localStorage, and comes with a strict Content-Security-Policy that
// forbids framing and allows only its own scripts.
func TestPageHeadersAndCSP(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler("lemlist GraphQL", "/graphql").ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, "shouldPersistHeaders: false,") || strings.Contains(body, "shouldPersistHeaders: true") {
		t.Fatalf("status %d; the page persists headers or lost the setting:\n%s", rec.Code, body)
	}
	if !strings.Contains(body, historyWithoutHeaders+"const fetcher = GraphiQL.createFetcher(") {
		t.Error("the page's storage keeps the headers of its history")
	}
	h := rec.Header()
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	csp := directives(h.Get("Content-Security-Policy"))
	for d, want := range map[string]string{
		"default-src": "'none'", "frame-ancestors": "'none'", "base-uri": "'none'",
		"form-action": "'none'", "object-src": "'none'", "connect-src": "'self'",
	} {
		if got := strings.Join(csp[d], " "); got != want {
			t.Errorf("%s %q, want %q", d, got, want)
		}
	}
	// Scripts: the embedded files ('self') and the page's inline bootstrap
	// by its hash; nothing else, no 'unsafe-inline' or 'unsafe-eval'.
	wantScripts := []string{"'self'"}
	for _, m := range regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindAllStringSubmatch(body, -1) {
		sum := sha256.Sum256([]byte(m[1]))
		wantScripts = append(wantScripts, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	if len(wantScripts) != 2 || strings.Join(csp["script-src"], " ") != strings.Join(wantScripts, " ") {
		t.Errorf("script-src %q, want %q", csp["script-src"], wantScripts)
	}
	// Styles may be inline (see Handler); nothing else is allowed.
	if got := strings.Join(csp["style-src"], " "); got != "'self' 'unsafe-inline'" {
		t.Errorf("style-src %q", got)
	}
	for d := range csp {
		switch d {
		case "default-src", "script-src", "style-src", "font-src", "img-src", "connect-src",
			"frame-ancestors", "base-uri", "form-action", "object-src":
		default:
			t.Errorf("unexpected directive %s %q", d, csp[d])
		}
	}

	// An absolute endpoint on another origin is allowed to connect to.
	rec = httptest.NewRecorder()
	Handler("t", "https://api.example.com/graphql").ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if got := strings.Join(directives(rec.Header().Get("Content-Security-Policy"))["connect-src"], " "); got != "'self' https://api.example.com wss://api.example.com" {
		t.Errorf("connect-src for an absolute endpoint: %q", got)
	}
}

// directives splits a policy into its directives' values.
func directives(policy string) map[string][]string {
	out := map[string][]string{}
	for _, d := range strings.Split(policy, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			out[f[0]] = f[1:]
		}
	}
	return out
}
