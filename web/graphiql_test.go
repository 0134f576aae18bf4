package web

import (
	"bytes"
	"compress/gzip"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/playground"
)

// tagRE matches the src/href and integrity attributes of the page's
// <script> and <link> tags, which gqlgen writes one per line.
var tagRE = regexp.MustCompile(`(?s)(?:src|href)="([^"]*)"\s*integrity="([^"]*)"`)

// refs maps each loaded file's base name to its URL and integrity value.
func refs(t *testing.T, h http.Handler) map[string][2]string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 {
		t.Fatalf("page: %d", rec.Code)
	}
	out := map[string][2]string{}
	for _, m := range tagRE.FindAllStringSubmatch(rec.Body.String(), -1) {
		u := html.UnescapeString(m[1])
		base := path.Base(strings.SplitN(u, "?", 2)[0])
		out[base] = [2]string{u, html.UnescapeString(m[2])}
	}
	return out
}

// The embedded files must be the very files gqlgen's default page loads
// from the CDN: same names, same SRI hashes. When a gqlgen upgrade moves
// its pins, this fails: run web/vendor.sh with the new versions.
func TestEmbeddedAssetsMatchGqlgenPins(t *testing.T) {
	def := refs(t, playground.Handler("t", "/graphql"))
	for _, name := range []string{graphiqlJS, graphiqlCSS, reactJS, reactDOMJS} {
		ref, ok := def[name]
		if !ok {
			t.Fatalf("gqlgen's default page no longer loads %s (it loads %v): re-vendor with web/vendor.sh", name, def)
		}
		if got := assets[name].sri; got != ref[1] {
			t.Errorf("%s: embedded %s, gqlgen pins %s (%s): re-vendor with web/vendor.sh", name, got, ref[1], ref[0])
		}
	}
	if len(assets) != 4 {
		t.Errorf("embedded %d files, want 4", len(assets))
	}
}

func TestHandlerLoadsOnlyLocalAssets(t *testing.T) {
	page := refs(t, Handler("lemlist GraphQL", "/graphql"))
	if len(page) != 4 {
		t.Fatalf("page loads %d files, want 4: %v", len(page), page)
	}
	for name, ref := range page {
		a := assets[name]
		if a == nil {
			t.Fatalf("page loads %s, which is not embedded", ref[0])
		}
		if want := AssetsPath + name + "?v=" + a.ver; ref[0] != want {
			t.Errorf("%s: URL %s, want %s", name, ref[0], want)
		}
		if ref[1] != a.sri {
			t.Errorf("%s: integrity %s, want %s", name, ref[1], a.sri)
		}
	}
	rec := httptest.NewRecorder()
	Handler("lemlist GraphQL", "/graphql").ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if body := rec.Body.String(); strings.Contains(body, "cdn.jsdelivr.net") || !strings.Contains(body, "<title>lemlist GraphQL</title>") {
		t.Errorf("page still refers to the CDN or lost its title:\n%s", body)
	}
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestAssets(t *testing.T) {
	h := Assets()
	for name, a := range assets {
		t.Run(name, func(t *testing.T) {
			u := a.URL(name)
			rec := get(t, h, "GET", u, nil)
			if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), a.body) {
				t.Fatalf("GET %s: %d, %d bytes", u, rec.Code, rec.Body.Len())
			}
			if ct := rec.Header().Get("Content-Type"); ct != a.ctype {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
				t.Errorf("Cache-Control %q for the current version", cc)
			}
			etag := rec.Header().Get("ETag")
			if rec := get(t, h, "GET", u, map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
				t.Errorf("If-None-Match: %d", rec.Code)
			}
			if rec := get(t, h, "GET", AssetsPath+name+"?v=old", nil); rec.Header().Get("Cache-Control") != "no-cache" {
				t.Errorf("stale ?v=: Cache-Control %q", rec.Header().Get("Cache-Control"))
			}

			rec = get(t, h, "GET", u, map[string]string{"Accept-Encoding": "br, gzip"})
			if rec.Header().Get("Content-Encoding") != "gzip" || rec.Header().Get("ETag") == etag {
				t.Fatalf("gzip: Content-Encoding %q, ETag %q", rec.Header().Get("Content-Encoding"), rec.Header().Get("ETag"))
			}
			zr, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(plain, a.body) {
				t.Errorf("gzip body does not decompress to the asset (%v)", err)
			}
			if rec := get(t, h, "GET", u, map[string]string{"Accept-Encoding": "gzip;q=0"}); rec.Header().Get("Content-Encoding") != "" {
				t.Errorf("gzip;q=0 still got gzip")
			}

			if rec := get(t, h, "HEAD", u, nil); rec.Code != 200 || rec.Body.Len() != 0 {
				t.Errorf("HEAD: %d, %d bytes", rec.Code, rec.Body.Len())
			}
			if rec := get(t, h, "POST", u, nil); rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("POST: %d", rec.Code)
			}
		})
	}
	for _, p := range []string{AssetsPath, AssetsPath + "nope.js", AssetsPath + "../graphiql.go", "/graphiql.min.js", AssetsPath + "LICENSE.react"} {
		if rec := get(t, h, "GET", p, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for v, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "br, gzip;q=0.5": true, "gzip;q=0": false,
		"gzip; q=0": false, "deflate": false, "x-gzip": false, "identity, gzip ; q=1": true,
	} {
		req := httptest.NewRequest("GET", "/", nil)
		if v != "" {
			req.Header.Set("Accept-Encoding", v)
		}
		if got := acceptsGzip(req); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", v, got, want)
		}
	}
}
