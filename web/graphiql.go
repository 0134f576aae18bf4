// Package web serves GraphiQL without a CDN: gqlgen's playground page, with
// its scripts and stylesheet pointed at copies embedded in the binary.
//
// gqlgen's playground.Handler loads GraphiQL 4.1.2, React 18.2.0 and
// ReactDOM 18.2.0 from cdn.jsdelivr.net, which a machine without internet
// access (CI here, an air-gapped deployment) cannot reach, leaving the page
// at "Loading…". The embedded files are byte-identical to those CDN copies
// (the package's tests check them against the SRI hashes gqlgen pins), and
// the page keeps its integrity attributes. See README.md for versions,
// licences and vendor.sh to refresh them.
//
// Wiring:
//
//	mux.Handle("GET /{$}", web.Handler("lemlist GraphQL", "/graphql"))
//	mux.Handle("GET "+web.AssetsPath, web.Assets())
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/playground"
)

// AssetsPath is where Assets expects to be mounted, and where the page
// produced by Handler loads its scripts and stylesheet from.
const AssetsPath = "/static/graphiql/"

//go:embed graphiql/*.js graphiql/*.css
var files embed.FS

// asset is one embedded file with its integrity hash.
type asset struct {
	body  []byte
	ctype string
	sri   string // "sha256-<base64>", as in an integrity attribute
	ver   string // first 16 hex digits of the SHA-256, the URL's ?v=

	gzOnce sync.Once
	gz     []byte // body gzipped, made on first use
}

// gzipped returns the body compressed with gzip, computed once.
func (a *asset) gzipped() []byte {
	a.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(a.body)
		_ = zw.Close()
		a.gz = buf.Bytes()
	})
	return a.gz
}

// URL is the path the page loads the asset from. The version parameter
// changes with the content, so browsers may cache each URL for good.
func (a *asset) URL(name string) string { return AssetsPath + name + "?v=" + a.ver }

var assets = map[string]*asset{}

func init() {
	entries, err := files.ReadDir("graphiql")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := files.ReadFile("graphiql/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		ctype := "text/javascript; charset=utf-8"
		if strings.HasSuffix(e.Name(), ".css") {
			ctype = "text/css; charset=utf-8"
		}
		assets[e.Name()] = &asset{
			body: b, ctype: ctype,
			sri: "sha256-" + base64.StdEncoding.EncodeToString(sum[:]),
			ver: hex.EncodeToString(sum[:8]),
		}
	}
}

// Asset file names, as embedded and served below AssetsPath.
const (
	graphiqlJS  = "graphiql.min.js"
	graphiqlCSS = "graphiql.min.css"
	reactJS     = "react.production.min.js"
	reactDOMJS  = "react-dom.production.min.js"
)

// Handler is gqlgen's GraphiQL page (playground.Handler) for endpoint,
// loading its assets from AssetsPath instead of the CDN. Extra options are
// applied after the asset options (e.g. playground.WithStoragePrefix).
//
// Two changes harden gqlgen's page:
//
//   - It does not persist the headers editor (shouldPersistHeaders:
//     false), nor the headers GraphiQL's history and favourites record
//     (see historyWithoutHeaders), so that tokens and lemlist keys typed
//     there do not stay in localStorage. The user can still have the
//     editor's headers persisted in GraphiQL's settings.
//   - It is served with a Content-Security-Policy that allows scripts from
//     the server only (the embedded assets) plus the page's inline script
//     by its SHA-256 (no 'unsafe-inline', no 'unsafe-eval'); connections to
//     the server (or to an absolute endpoint's origin); no framing
//     (frame-ancestors 'none', and X-Frame-Options: DENY for older
//     browsers), no plugins, no base or form targets. Styles may be inline:
//     React and CodeMirror set style attributes, and GraphiQL's dialogs
//     inject a <style> element whose content depends on the browser's
//     scrollbar width, which no hash can cover. test/e2e/graphiql.mjs
//     checks in Chromium that the page runs under the policy, dialogs
//     included, without a violation.
//
// The page is rendered once, here. Handler panics if gqlgen's page no
// longer has the shouldPersistHeaders setting it rewrites (the package's
// tests catch that on a gqlgen upgrade).
func Handler(title, endpoint string, opts ...playground.GraphiqlConfigOption) http.Handler {
	js, css, react, dom := assets[graphiqlJS], assets[graphiqlCSS], assets[reactJS], assets[reactDOMJS]
	all := append([]playground.GraphiqlConfigOption{
		playground.WithGraphiqlVersion(js.URL(graphiqlJS), css.URL(graphiqlCSS), js.sri, css.sri),
		playground.WithGraphiqlReactVersion(react.URL(reactJS), dom.URL(reactDOMJS), react.sri, dom.sri),
	}, opts...)
	var page pageWriter
	playground.Handler(title, endpoint, all...).ServeHTTP(&page, new(http.Request))
	body := page.buf.Bytes()
	const persist, noPersist = "shouldPersistHeaders: true,", "shouldPersistHeaders: false,"
	if bytes.Count(body, []byte(persist)) != 1 {
		panic("web: gqlgen's GraphiQL page no longer sets " + persist + " once: review Handler")
	}
	body = bytes.Replace(body, []byte(persist), []byte(noPersist), 1)
	const fetcher = "const fetcher = GraphiQL.createFetcher("
	if bytes.Count(body, []byte(fetcher)) != 1 {
		panic("web: gqlgen's GraphiQL page no longer has " + fetcher + " once: review Handler")
	}
	body = bytes.Replace(body, []byte(fetcher), []byte(historyWithoutHeaders+fetcher), 1)
	csp := contentSecurityPolicy(body, endpoint)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

// historyWithoutHeaders goes into the page's script, before GraphiQL
// starts: GraphiQL 4.1.2 stores each run's headers in its history and
// favourites (graphiql:queries, graphiql:favorites) whatever
// shouldPersistHeaders says, so the page's storage drops them from those
// entries before they reach localStorage.
const historyWithoutHeaders = `// lemlist-graphql: history entries keep no headers (tokens, keys).
      {
        const setItem = PrefixedStorage.prototype.setItem;
        PrefixedStorage.prototype.setItem = function (key, value) {
          if (/:(queries|favorites)$/.test(key)) {
            try {
              const stored = JSON.parse(value);
              for (const list of Object.values(stored)) {
                if (Array.isArray(list)) list.forEach((item) => { if (item) delete item.headers; });
              }
              value = JSON.stringify(stored);
            } catch (e) {
              return; // not the shape expected: store nothing rather than headers
            }
          }
          setItem.call(this, key, value);
        };
      }
      `

// inlineScriptRE matches the page's inline scripts and their text.
var inlineScriptRE = regexp.MustCompile(`(?s)<script>(.*?)</script>`)

// contentSecurityPolicy returns the policy of page, whose GraphQL endpoint
// is endpoint: see Handler.
func contentSecurityPolicy(page []byte, endpoint string) string {
	var scripts []string
	for _, m := range inlineScriptRE.FindAllSubmatch(page, -1) {
		sum := sha256.Sum256(m[1])
		scripts = append(scripts, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	connect := "'self'"
	if u, err := url.Parse(endpoint); err == nil && u.Scheme != "" && u.Host != "" {
		ws := "ws"
		if u.Scheme == "https" {
			ws = "wss"
		}
		connect += " " + u.Scheme + "://" + u.Host + " " + ws + "://" + u.Host
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self' " + strings.Join(scripts, " "),
		"style-src 'self' 'unsafe-inline'",
		"font-src 'self' data:",
		"img-src 'self' data:",
		"connect-src " + connect,
		"frame-ancestors 'none'",
		"base-uri 'none'",
		"form-action 'none'",
		"object-src 'none'",
	}, "; ")
}

// pageWriter is the http.ResponseWriter Handler renders gqlgen's page into.
type pageWriter struct {
	buf bytes.Buffer
	hdr http.Header
}

func (w *pageWriter) Header() http.Header {
	if w.hdr == nil {
		w.hdr = http.Header{}
	}
	return w.hdr
}

func (w *pageWriter) Write(b []byte) (int, error) { return w.buf.Write(b) }
func (w *pageWriter) WriteHeader(int)             {}

// Assets serves the embedded files. Mount it at AssetsPath (it strips the
// prefix itself); other paths and unknown names are 404, methods other
// than GET and HEAD 405. A request whose ?v= matches the content may be
// cached for a year; any other is revalidated by ETag.
func Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, AssetsPath)
		a := assets[name]
		if !ok || a == nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Vary", "Accept-Encoding")
		body, etag := a.body, `"`+a.ver+`"`
		if acceptsGzip(r) {
			body, etag = a.gzipped(), `"`+a.ver+`-gz"`
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("ETag", etag)
		if r.URL.Query().Get("v") == a.ver {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
	})
}

// acceptsGzip reports whether the request's Accept-Encoding lists gzip
// without q=0.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.ToLower(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
