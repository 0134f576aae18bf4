package lemlisttest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
)

// DefaultAPIKey is the default tenant's API key when Options.APIKey is empty.
const DefaultAPIKey = "test-key"

// DefaultTenant is the name of the tenant that Options.APIKey and
// Options.Dataset describe.
const DefaultTenant = "default"

// DefaultRateLimit and DefaultRateWindow are lemlist's documented budget:
// 20 requests per 2 seconds per API key.
const (
	DefaultRateLimit  = 20
	DefaultRateWindow = 2 * time.Second
)

// NoRateLimit, as Options.RateLimit, turns the fake's rate limiting off.
// Grants are still tracked for MaxInWindow.
const NoRateLimit = -1

// Options configures a Server. The zero value is a single tenant with key
// DefaultAPIKey, DefaultActivities activities and lemlist's rate limit.
type Options struct {
	// APIKey is the default tenant's key. Empty means DefaultAPIKey.
	APIKey string
	// Dataset shapes the default tenant's generated data.
	Dataset DatasetOptions
	// Tenants adds teams beside the default one, each with its own key,
	// data and rate-limit budget.
	Tenants []TenantOptions
	// RateLimit is the number of requests one key may make per RateWindow.
	// Zero means DefaultRateLimit; NoRateLimit (or any negative value)
	// disables limiting.
	RateLimit int
	// RateWindow is the sliding window of the rate limit. Zero means
	// DefaultRateWindow.
	RateWindow time.Duration
	// Latency delays every response.
	Latency time.Duration
	// Now is the clock of the rate limiter and of the request log. Nil
	// means time.Now. It does not move the dataset (see DatasetOptions.Now).
	Now func() time.Time
	// DatePrecision, when set, truncates minDate and maxDate to a multiple
	// of it before they bound createdAt (and before maxDate > minDate is
	// checked): time.Second emulates an upstream that ignores their
	// milliseconds, which lemlist's docs leave open. Zero keeps
	// milliseconds.
	DatePrecision time.Duration
}

// TenantOptions describes one extra tenant (a lemlist team).
type TenantOptions struct {
	// Name identifies the tenant in Server.Tenant and Request.Tenant. It
	// must be unique and not DefaultTenant.
	Name string
	// APIKey is the tenant's key; it must be unique and non-empty.
	APIKey string
	// Dataset shapes the tenant's data. A zero Seed derives one from Name.
	Dataset DatasetOptions
}

// Request is one request the fake received, as Server.Requests reports it.
type Request struct {
	Method string
	// Path is the path below the API root, e.g. "/activities" (the full
	// path for a request outside the API).
	Path string
	// Query is the query string without access_token.
	Query url.Values
	// Tenant is the name of the authenticated tenant, "" when the request
	// was not authenticated.
	Tenant string
	// KeyHash is the first 12 hex digits of the SHA-256 of the supplied API
	// key, "" when no key was supplied. The raw key is never recorded.
	KeyHash string
	// Status is the HTTP status the fake answered with.
	Status int
	// Time is when the request arrived, by Options.Now.
	Time time.Time
}

// Fault is an injected misbehaviour; see Server.InjectFault. Faults apply
// to authenticated requests that the rate limiter accepted.
type Fault struct {
	// Path restricts the fault to one path below the API root, e.g.
	// "/activities"; a trailing slash makes it a prefix ("/campaigns/").
	// Empty matches every path.
	Path string
	// Status, when set, replaces the answer with this status and Body (or
	// the status text when Body is empty), as text/plain.
	Status int
	// Body replaces the answer's body. Without Status the status is 200
	// and the type application/json, e.g. Body: "{}".
	Body string
	// ContentType overrides the Content-Type of Status or Body answers.
	ContentType string
	// HTML200 answers 200 with the web app's HTML shell.
	HTML200 bool
	// Truncate cuts the answer's body in half (the framing stays valid, so
	// the client sees malformed JSON, not a transport error).
	Truncate bool
	// RetryAfter sets the Retry-After header, e.g. "0.5" with Status 429.
	RetryAfter string
	// Latency delays the answer.
	Latency time.Duration
}

// Server is a fake lemlist API listening on 127.0.0.1. Its state lives
// behind a mutex; every method is safe for concurrent use.
type Server struct {
	// URL is the API root, e.g. "http://127.0.0.1:1234/api" (no trailing
	// slash), ready for lemlist.WithBaseURL.
	URL string

	hs      *httptest.Server
	limit   int
	window  time.Duration
	latency time.Duration
	now     func() time.Time
	prec    int64 // Options.DatePrecision in ms; 0 or 1 keeps every ms

	tenants []*Tenant
	byKey   map[string]*Tenant
	byName  map[string]*Tenant

	bufs sync.Pool // *[]byte response buffers of GET /activities

	mu     sync.Mutex // guards log, faults and every tenant's limiter
	log    []Request
	faults []pendingFault
}

type pendingFault struct {
	f Fault
	n int
}

// NewServer generates every tenant's data and starts the fake on
// 127.0.0.1:0. It panics on invalid options, like httptest.NewServer on a
// listen error. Call Close when done.
func NewServer(opts Options) *Server {
	s := &Server{
		limit: opts.RateLimit, window: opts.RateWindow, latency: opts.Latency, now: opts.Now,
		prec:  opts.DatePrecision.Milliseconds(),
		byKey: map[string]*Tenant{}, byName: map[string]*Tenant{},
	}
	s.bufs.New = func() any { b := make([]byte, 0, 192<<10); return &b }
	if s.limit == 0 {
		s.limit = DefaultRateLimit
	}
	if s.window <= 0 {
		s.window = DefaultRateWindow
	}
	if s.now == nil {
		s.now = time.Now
	}
	key := opts.APIKey
	if key == "" {
		key = DefaultAPIKey
	}
	all := append([]TenantOptions{{Name: DefaultTenant, APIKey: key, Dataset: opts.Dataset}}, opts.Tenants...)
	for _, to := range all {
		if to.Name == "" || to.APIKey == "" {
			panic("lemlisttest: a tenant needs a Name and an APIKey")
		}
		if s.byName[to.Name] != nil {
			panic(fmt.Sprintf("lemlisttest: duplicate tenant name %q", to.Name))
		}
		if s.byKey[to.APIKey] != nil {
			panic(fmt.Sprintf("lemlisttest: tenant %q reuses another tenant's API key", to.Name))
		}
		t := &Tenant{s: s, name: to.Name, key: to.APIKey, d: generate(to.Dataset.normalized(to.Name))}
		s.tenants = append(s.tenants, t)
		s.byKey[t.key] = t
		s.byName[t.name] = t
	}
	s.hs = httptest.NewServer(s.Handler())
	s.URL = s.hs.URL + "/api"
	return s
}

// Close shuts the listener down and blocks until outstanding requests end.
func (s *Server) Close() { s.hs.Close() }

// Handler returns the fake as an http.Handler, to mount in-process. It
// serves the API below the first "/api/" segment of the path, so it works
// under any prefix ("/api/activities", "/lemlist/api/activities").
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// Client returns a client for the default tenant; see Tenant.Client.
func (s *Server) Client(opts ...lemlist.Option) *lemlist.Client {
	return s.byName[DefaultTenant].Client(opts...)
}

// Tenant returns the tenant called name (DefaultTenant for the default
// one), or nil.
func (s *Server) Tenant(name string) *Tenant { return s.byName[name] }

// Expected is the default tenant's Tenant.Expected.
func (s *Server) Expected(q url.Values) ([]Activity, error) {
	return s.byName[DefaultTenant].Expected(q)
}

// InsertActivities is the default tenant's Tenant.InsertActivities.
func (s *Server) InsertActivities(n int) []Activity {
	return s.byName[DefaultTenant].InsertActivities(n)
}

// Insert is the default tenant's Tenant.Insert.
func (s *Server) Insert(specs ...ActivitySpec) ([]Activity, error) {
	return s.byName[DefaultTenant].Insert(specs...)
}

// Delete is the default tenant's Tenant.Delete.
func (s *Server) Delete(ids ...string) int { return s.byName[DefaultTenant].Delete(ids...) }

// MaxInWindow is the default tenant's Tenant.MaxInWindow.
func (s *Server) MaxInWindow() int { return s.byName[DefaultTenant].MaxInWindow() }

// Requests returns a copy of the request log, oldest first. Every request
// is logged, unknown paths and refused ones included, until ResetRequests.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.log))
	for i, r := range s.log {
		r.Query = cloneValues(r.Query)
		out[i] = r
	}
	return out
}

// CountRequests returns how many logged requests had path (below the API
// root, e.g. "/activities").
func (s *Server) CountRequests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.log {
		if r.Path == path {
			n++
		}
	}
	return n
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// InjectFault applies f to the next n requests that match f.Path. Faults
// queue up: a request takes the oldest matching one.
func (s *Server) InjectFault(f Fault, n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, pendingFault{f, n})
}

// FailNext makes the next n requests answer status with its status text.
func (s *Server) FailNext(status, n int) { s.InjectFault(Fault{Status: status}, n) }

// ClearFaults drops every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) takeFaultLocked(path string) *Fault {
	for i := range s.faults {
		pf := &s.faults[i]
		if p := pf.f.Path; p != "" && p != path && !(strings.HasSuffix(p, "/") && strings.HasPrefix(path, p)) {
			continue
		}
		f := pf.f
		if pf.n--; pf.n == 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return &f
	}
	return nil
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// response is an answer before it is written.
type response struct {
	status   int
	ctype    string
	body     []byte
	truncate bool
	pooled   *[]byte // body's buffer, returned to Server.bufs once written
}

const (
	ctJSON = "application/json; charset=utf-8"
	ctText = "text/plain; charset=utf-8"
	ctHTML = "text/html; charset=utf-8"
)

func text(status int, msg string) response {
	return response{status: status, ctype: ctText, body: []byte(msg)}
}

// MsgUnauthorized is the body of the fake's 401 answers, as lemlist words it.
const MsgUnauthorized = "The authentication you supplied is incorrect"

// htmlShell is what lemlist answers, with 200, on paths it has no API
// route for: its web application.
const htmlShell = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>lemlist</title>` +
	`<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="/favicon.ico">` +
	`</head><body><noscript>You need to enable JavaScript to run this app.</noscript><div id="root"></div>` +
	`<script src="/static/js/main.js"></script></body></html>`

func shell() response { return response{status: http.StatusOK, ctype: ctHTML, body: []byte(htmlShell)} }

// apiPath returns the path below the first "/api/" segment.
func apiPath(p string) (string, bool) {
	if i := strings.Index(p, "/api/"); i >= 0 {
		p = p[i+4:]
		if len(p) > 1 {
			p = strings.TrimSuffix(p, "/")
		}
		return p, true
	}
	if strings.HasSuffix(p, "/api") {
		return "/", true
	}
	return p, false
}

func credentials(r *http.Request, q url.Values) (string, bool) {
	if _, pw, ok := r.BasicAuth(); ok {
		return pw, true
	}
	if v := q.Get("access_token"); v != "" {
		return v, true
	}
	return "", false
}

func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:6])
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	arrived := s.now()
	q := r.URL.Query()
	key, supplied := credentials(r, q)
	q.Del("access_token")
	rel, isAPI := apiPath(r.URL.Path)
	entry := Request{Method: r.Method, Path: rel, Query: q, Time: arrived}
	if supplied {
		entry.KeyHash = keyHash(key)
	}
	h := w.Header()
	sleep(r, s.latency)

	var res response
	route := findRoute(rel)
	var t *Tenant
	if supplied {
		t = s.byKey[key]
		if t != nil && t.revoked.Load() {
			t = nil // Tenant.Revoke
		}
	}
	switch {
	case !isAPI || route == nil:
		res = shell()
	case t == nil:
		res = text(http.StatusUnauthorized, MsgUnauthorized)
	default:
		entry.Tenant = t.name
		// Admit at a time read under the lock, so that admissions are in
		// the order of their times and the window never sees a request
		// stamped before one it already admitted.
		s.mu.Lock()
		admitted := s.now()
		ok, remaining, reset := t.lim.admit(admitted, s.limit, s.window)
		var fault *Fault
		if ok {
			fault = s.takeFaultLocked(rel)
		}
		s.mu.Unlock()
		if s.limit > 0 {
			h.Set("X-RateLimit-Limit", strconv.Itoa(s.limit))
			h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
			h.Set("X-RateLimit-Reset", formatJSDate(reset))
			h.Set("Retry-After", formatSeconds(reset.Sub(admitted)))
		}
		if !ok {
			res = text(http.StatusTooManyRequests, "Too Many Requests")
			break
		}
		switch {
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			res = route(t, q, rel)
		case r.Method == http.MethodPost && rel == "/hooks":
			res = t.createHook(r, q, arrived)
		case r.Method == http.MethodDelete && strings.HasPrefix(rel, "/hooks/"):
			res = t.deleteHook(strings.TrimPrefix(rel, "/hooks/"))
		default:
			res = text(http.StatusMethodNotAllowed, "Method Not Allowed")
		}
		if fault != nil {
			res = applyFault(r, h, *fault, res)
		}
	}

	body := res.body
	if res.truncate {
		body = body[:len(body)/2]
	}
	// Log before answering: a client that has read its answer must find
	// its request in the log.
	entry.Status = res.status
	s.mu.Lock()
	s.log = append(s.log, entry)
	s.mu.Unlock()
	h.Set("Content-Type", res.ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(res.status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	if res.pooled != nil && cap(*res.pooled) <= 1<<20 {
		s.bufs.Put(res.pooled)
	}
}

func applyFault(r *http.Request, h http.Header, f Fault, res response) response {
	sleep(r, f.Latency)
	switch {
	case f.HTML200:
		res = shell()
	case f.Status != 0:
		res = text(f.Status, f.Body)
		if f.Body == "" {
			res.body = []byte(http.StatusText(f.Status))
		}
	case f.Body != "":
		res = response{status: http.StatusOK, ctype: ctJSON, body: []byte(f.Body)}
	}
	if f.ContentType != "" && (f.Status != 0 || f.Body != "") {
		res.ctype = f.ContentType
	}
	if f.Truncate {
		res.truncate = true
	}
	if f.RetryAfter != "" {
		h.Set("Retry-After", f.RetryAfter)
	}
	return res
}

// sleep waits d or until the client goes away.
func sleep(r *http.Request, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

type routeFunc func(t *Tenant, q url.Values, path string) response

func findRoute(p string) routeFunc {
	switch p {
	case "/activities":
		return (*Tenant).serveActivities
	case "/leads":
		return (*Tenant).serveLeadQuery
	case "/contacts":
		return (*Tenant).serveContacts
	case "/campaigns":
		return (*Tenant).serveCampaignList
	case "/team":
		return (*Tenant).serveTeam
	case "/hooks":
		return (*Tenant).serveHooks
	}
	for _, r := range [...]struct {
		prefix string
		fn     routeFunc
	}{
		{"/leads/", (*Tenant).serveLeadByEmail},
		{"/contacts/", (*Tenant).serveContact},
		{"/campaigns/", (*Tenant).serveCampaign},
		{"/hooks/", (*Tenant).serveHookByID},
	} {
		if rest, ok := strings.CutPrefix(p, r.prefix); ok && rest != "" && !strings.Contains(rest, "/") {
			return r.fn
		}
	}
	return nil
}
