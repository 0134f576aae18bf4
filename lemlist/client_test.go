package lemlist

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// testKey is a fake API key; tests assert it never leaks.
const testKey = "sk_test_9f8e7d6c5b4a3210fedcba98"

// setup starts a server whose mux serves under /api/ and returns a client for
// it with limiting off and millisecond retry delays (opts may override), the
// mux, and a counter of the requests served.
func setup(t *testing.T, opts ...Option) (*Client, *http.ServeMux, *atomic.Int64) {
	t.Helper()
	return setupOn(t, func(h http.Handler) (string, []Option) {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL, nil
	}, opts...)
}

// setupPiped is setup over an in-memory network (net.Pipe connections),
// for a test run in a synctest bubble: waiting on a pipe blocks durably, so
// the bubble's clock (attempt timeouts, retry waits) moves only when every
// goroutine, the server's included, waits.
func setupPiped(t *testing.T, opts ...Option) (*Client, *http.ServeMux, *atomic.Int64) {
	t.Helper()
	return setupOn(t, func(h http.Handler) (string, []Option) {
		l := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
		srv := &http.Server{Handler: h}
		go srv.Serve(l)
		tr := &http.Transport{DialContext: l.dial}
		t.Cleanup(func() {
			tr.CloseIdleConnections()
			srv.Close()
		})
		return "http://lemlist.test", []Option{WithHTTPClient(&http.Client{Transport: tr})}
	}, opts...)
}

// pipeListener is a net.Listener whose connections are made by its dial,
// each a net.Pipe.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// setupOn is setup on the server that serve starts for a handler,
// returning its URL and the options a client needs to reach it.
func setupOn(t *testing.T, serve func(http.Handler) (string, []Option), opts ...Option) (*Client, *http.ServeMux, *atomic.Int64) {
	t.Helper()
	mux := http.NewServeMux()
	var hits atomic.Int64
	url, reach := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if strings.Contains(r.URL.String(), testKey) {
			t.Errorf("API key in URL %s", r.URL)
		}
		mux.ServeHTTP(w, r)
	}))
	base := append(reach,
		WithBaseURL(url+"/api"),
		WithRateLimit(0, 0),
		WithRetry(RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}),
	)
	c, err := NewClient(testKey, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c, mux, &hits
}

// reply returns a handler answering status with body and headers h
// ("Name: value" pairs).
func reply(status int, body string, h ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, kv := range h {
			k, v, _ := strings.Cut(kv, ": ")
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func readSeed(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/seed.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewClientRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]Option{
		"relative base URL":  WithBaseURL("/api"),
		"base URL with user": WithBaseURL("https://u:p@example.com/api"),
		"nil http client":    WithHTTPClient(nil),
		"negative timeout":   WithTimeout(-time.Second),
		"nil limiter":        WithLimiter(nil),
		"negative rate":      WithRateLimit(-1, time.Second),
		"zero window":        WithRateLimit(20, 0),
		"negative attempts":  WithRetry(RetryPolicy{MaxAttempts: -1}),
		"max below base":     WithRetry(RetryPolicy{BaseDelay: time.Second, MaxDelay: time.Millisecond}),
	} {
		if _, err := NewClient(testKey, o); err == nil {
			t.Errorf("%s: NewClient succeeded", name)
		}
	}
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithUserAgent("ua-test"))
	mux.HandleFunc("GET /api/team", func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "" || pass != testKey {
			t.Errorf("basic auth = %q, %q, %v; want empty user and the key", user, pass, ok)
		}
		if got := r.Header.Get("Accept"); got != "application/json" {
			t.Errorf("Accept = %q", got)
		}
		if got := r.Header.Get("User-Agent"); got != "ua-test" {
			t.Errorf("User-Agent = %q", got)
		}
		if got := r.URL.RawQuery; got != "version=v2" {
			t.Errorf("query = %q", got)
		}
		fmt.Fprint(w, `{"_id":"tea_1","users":[{"userId":"usr_1","name":"Ann"}]}`)
	})
	team, resp, err := c.Team.Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if team.ID != "tea_1" || len(team.Users) != 1 || team.Users[0].Name != "Ann" || resp.StatusCode != 200 {
		t.Errorf("got %+v, status %d", team, resp.StatusCode)
	}
}

func TestErrorByStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		hits    int64  // requests expected, retries included
		status  int    // StatusCode(err)
		kind    string // "response", "ratelimit" or "decode"
		msg     string // substring of err.Error()
	}{
		{"400 text", reply(400, "Bad team", "Content-Type: text/plain"), 1, 400, "response", "lemlist: GET activities: 400 Bad team"},
		{"401 text", reply(401, "The authentication you supplied is incorrect"), 1, 401, "response", "401 The authentication you supplied is incorrect"},
		{"402 quoted", reply(402, `"route is available starting emailPro plan"`), 1, 402, "response", "402 route is available starting emailPro plan"},
		{"403 text", reply(403, "User linked to this API key is blocked"), 1, 403, "response", "403 User linked"},
		{"404 text", reply(404, "Lead not found\n"), 1, 404, "response", "404 Lead not found"},
		{"404 JSON error", reply(404, `{"success":false,"error":{"code":"NOT_FOUND","message":"No such thing"}}`, "Content-Type: application/json"), 1, 404, "response", "404 No such thing"},
		{"404 JSON message", reply(404, `{"message":"Campaign not found"}`), 1, 404, "response", "404 Campaign not found"},
		{"404 empty", reply(404, ""), 1, 404, "response", "404 Not Found"},
		{"429", reply(429, "Too many", "Retry-After: 0.651"), 1, 429, "ratelimit", "429 rate limited (retry after 651ms)"},
		{"500 retried", reply(500, "oops"), 4, 500, "response", "500 oops"},
		{"503 retried", reply(503, "<html>maintenance</html>"), 4, 503, "response", "503 Service Unavailable"},
		{"HTML 200", reply(200, "<!DOCTYPE html><html><body>lemlist app</body></html>", "Content-Type: text/html"), 1, 200, "decode", "cannot decode 200 response (text/html): not a JSON object or array; body starts \"<!DOCTYPE html><html><body>lemlist app</body></html>\""},
		{"truncated JSON retried once", reply(200, `[{"_id":"act_1","type":"emailsSent"`), 2, 200, "decode", "unexpected end of JSON input"},
		{"object for a list", reply(200, `{}`), 1, 200, "decode", "got a JSON object, want an array"},
		{"wrong field type", reply(200, `[{"_id":1}]`), 1, 200, "decode", "cannot unmarshal number"},
		{"null in the list", reply(200, `[{"_id":"act_1"},null]`), 1, 200, "decode", "null at index 1 of the array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux, hits := setup(t, WithRetry(RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}))
			mux.HandleFunc("/api/activities", tt.handler)
			if tt.kind == "ratelimit" { // no retry: the wait passes the deadline
				c.retry.MaxAttempts = 1
			}
			page, resp, err := c.Activities.List(t.Context(), nil)
			if err == nil {
				t.Fatalf("got %d activities, no error", len(page))
			}
			if page != nil || resp == nil {
				t.Errorf("page = %v, resp = %v; want nil page and a response", page, resp)
			}
			if got := hits.Load(); got != tt.hits {
				t.Errorf("%d requests, want %d", got, tt.hits)
			}
			if got := StatusCode(err); got != tt.status {
				t.Errorf("StatusCode = %d, want %d", got, tt.status)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			var (
				er  *ErrorResponse
				rle *RateLimitError
				de  *DecodeError
			)
			switch tt.kind {
			case "response":
				if !errors.As(err, &er) || er.Endpoint != "activities" || er.Response == nil {
					t.Errorf("got %T %#v, want *ErrorResponse for activities", err, err)
				}
			case "ratelimit":
				if !errors.As(err, &rle) || rle.RetryAfter != 651*time.Millisecond || rle.Endpoint != "activities" {
					t.Errorf("got %T %#v, want *RateLimitError with RetryAfter 651ms", err, err)
				}
				if errors.Is(err, ErrRateLimitWait) {
					t.Error("an upstream 429 matches ErrRateLimitWait")
				}
			case "decode":
				if !errors.As(err, &de) || de.Endpoint != "activities" || de.Status != 200 {
					t.Errorf("got %T %#v, want *DecodeError for activities", err, err)
				}
			}
		})
	}
}

func TestErrorResponseCodeAndIsNotFound(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/api/campaigns/{id}", reply(409, `{"success":false,"error":{"code":"CONTACT_DELETE_BLOCKED","message":"Blocked"}}`))
	mux.HandleFunc("/api/leads", reply(404, "Lead not found"))
	_, _, err := c.Campaigns.Get(t.Context(), "cam_1")
	er, ok := errors.AsType[*ErrorResponse](err)
	if !ok || er.Code != "CONTACT_DELETE_BLOCKED" || er.Message != "Blocked" || er.Endpoint != "campaigns/{id}" {
		t.Errorf("got %#v", err)
	}
	if IsNotFound(err) {
		t.Error("IsNotFound(409)")
	}
	_, _, err = c.Leads.Get(t.Context(), "lea_1")
	if wrapped := fmt.Errorf("resolve lead: %w", err); !IsNotFound(wrapped) {
		t.Errorf("IsNotFound(%v) = false", wrapped)
	}
	if StatusCode(errors.New("x")) != 0 || IsNotFound(nil) {
		t.Error("StatusCode of a foreign error is not 0")
	}
}

// recLimiter is a Limiter that grants at once and records pauses.
type recLimiter struct {
	mu     sync.Mutex
	waits  int
	pauses []time.Duration // until - time of the call
}

func (l *recLimiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waits++
	return ctx.Err()
}

func (l *recLimiter) Pause(until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pauses = append(l.pauses, time.Until(until))
}

func TestRetry429ThenSuccessPausesLimiter(t *testing.T) {
	t.Parallel()
	lim := &recLimiter{}
	c, mux, hits := setup(t, WithLimiter(lim))
	mux.HandleFunc("/api/activities", func(w http.ResponseWriter, r *http.Request) {
		if hits.Load() == 1 {
			reply(429, "", "Retry-After: 0.02")(w, r)
			return
		}
		fmt.Fprint(w, `[]`)
	})
	page, _, err := c.Activities.List(t.Context(), nil)
	if err != nil || page == nil || len(page) != 0 {
		t.Fatalf("got %v, %v; want an empty page", page, err)
	}
	if hits.Load() != 2 || lim.waits != 2 {
		t.Errorf("%d requests, %d limiter waits; want 2 and 2", hits.Load(), lim.waits)
	}
	if len(lim.pauses) != 1 || lim.pauses[0] <= 0 || lim.pauses[0] > 20*time.Millisecond {
		t.Errorf("pauses = %v, want one of about 20ms", lim.pauses)
	}
}

func TestRemainingZeroPausesLimiter(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		retryAfter string
		min, max   time.Duration
	}{
		{"0.5", 400 * time.Millisecond, 500 * time.Millisecond},
		{"", 900 * time.Millisecond, time.Second},        // default pause
		{"30", 1900 * time.Millisecond, 2 * time.Second}, // capped at lemlist's window
	} {
		lim := &recLimiter{}
		c, mux, _ := setup(t, WithLimiter(lim))
		mux.HandleFunc("/api/team", reply(200, `{"_id":"tea_1"}`, "X-RateLimit-Remaining: 0", "Retry-After: "+tt.retryAfter))
		if _, _, err := c.Team.Get(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(lim.pauses) != 1 || lim.pauses[0] < tt.min || lim.pauses[0] > tt.max {
			t.Errorf("Retry-After %q: pauses = %v, want one in [%s, %s]", tt.retryAfter, lim.pauses, tt.min, tt.max)
		}
	}
}

func TestRetryOnTransportError(t *testing.T) {
	t.Parallel()
	c, mux, hits := setup(t)
	mux.HandleFunc("/api/team", func(w http.ResponseWriter, r *http.Request) {
		if hits.Load() == 1 { // drop the connection without an answer
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
			return
		}
		fmt.Fprint(w, `{"_id":"tea_1"}`)
	})
	if _, _, err := c.Team.Get(t.Context()); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 2 {
		t.Errorf("%d requests, want 2", hits.Load())
	}
}

func TestTransportErrorKeepsURLErrorWithoutQuery(t *testing.T) {
	t.Parallel()
	c, err := NewClient(testKey, WithBaseURL("http://127.0.0.1:1/api"), WithRetry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	obs := &recObserver{}
	c.obs = obs
	_, _, err = c.Contacts.GetMany(t.Context(), []string{"someone@example.com"})
	ue, ok := errors.AsType[*url.Error](err)
	if !ok || ue.URL != "http://127.0.0.1:1/api/contacts" || strings.Contains(err.Error(), "example.com") {
		t.Errorf("got %v, want a *url.Error without the query", err)
	}
	if !slices.Equal(obs.requests, []string{"contacts 0 #1", "contacts 0 #2"}) || !slices.Equal(obs.retries, []string{"contacts transport"}) {
		t.Errorf("requests %q, retries %q", obs.requests, obs.retries)
	}
}

func TestNoRetryWithMaxAttemptsOne(t *testing.T) {
	t.Parallel()
	c, mux, hits := setup(t, WithRetry(RetryPolicy{MaxAttempts: 1}))
	mux.HandleFunc("/api/team", reply(503, "down"))
	if _, _, err := c.Team.Get(t.Context()); StatusCode(err) != 503 || hits.Load() != 1 {
		t.Errorf("err %v after %d requests; want a 503 after 1", err, hits.Load())
	}
}

func TestRetryAfterBeyondDeadlineReturnsRateLimitError(t *testing.T) {
	t.Parallel()
	c, mux, hits := setup(t)
	mux.HandleFunc("/api/activities", reply(429, "", "Retry-After: 30"))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, _, err := c.Activities.List(ctx, nil)
	rle, ok := errors.AsType[*RateLimitError](err)
	if !ok || rle.RetryAfter != 30*time.Second {
		t.Fatalf("got %v, want a *RateLimitError with RetryAfter 30s", err)
	}
	if hits.Load() != 1 {
		t.Errorf("%d requests, want 1", hits.Load())
	}
	if d := time.Since(start); d > 4*time.Second { // it must not sleep until the deadline
		t.Errorf("returned after %s", d)
	}
}

func TestContextCancelled(t *testing.T) {
	t.Parallel()
	c, mux, hits := setup(t)
	mux.HandleFunc("/api/team", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/api/leads", reply(429, "", "Retry-After: 60"))

	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for hits.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if _, _, err := c.Team.Get(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("in flight: got %v, want context.Canceled", err)
	}

	// Cancelled during the wait before a retry (no deadline, so the client
	// sleeps Retry-After).
	ctx, cancel = context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, _, err := c.Leads.Get(ctx, "lea_1"); !errors.Is(err, context.Canceled) {
		t.Errorf("during retry wait: got %v, want context.Canceled", err)
	}

	if _, _, err := c.Team.Get(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("already cancelled: got %v, want context.Canceled", err)
	}
}

// An attempt that times out is retried. The test runs on synctest's clock
// over in-memory connections: an attempt times out exactly when nothing
// else can happen, and one that is answered never does, however loaded the
// machine.
func TestAttemptTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c, mux, hits := setupPiped(t, WithTimeout(50*time.Millisecond))
		mux.HandleFunc("/api/team", func(w http.ResponseWriter, r *http.Request) {
			if hits.Load() == 1 {
				<-r.Context().Done()
				return
			}
			fmt.Fprint(w, `{"_id":"tea_1"}`)
		})
		mux.HandleFunc("/api/leads", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		start := time.Now()
		if _, _, err := c.Team.Get(t.Context()); err != nil || hits.Load() != 2 {
			t.Errorf("err %v after %d requests; want success after 2", err, hits.Load())
		}
		// On the bubble's clock: the first attempt's timeout, then the
		// retry wait (at most BaseDelay, 1ms).
		if el := time.Since(start); el < 50*time.Millisecond || el > 51*time.Millisecond {
			t.Errorf("success after %v, want 50ms and the retry wait", el)
		}
		hits.Store(0)
		_, _, err := c.Leads.Get(t.Context(), "lea_1")
		if err == nil || !strings.Contains(err.Error(), "attempt timed out after 50ms") || hits.Load() != 4 {
			t.Errorf("err %v after %d requests; want a timeout after 4", err, hits.Load())
		}
		if errors.Is(err, context.Canceled) {
			t.Error("an attempt timeout reads as a cancellation")
		}
	})
}

func TestLocalRateLimitFailsFast(t *testing.T) {
	t.Parallel()
	c, mux, hits := setup(t, WithRateLimit(1, time.Hour))
	mux.HandleFunc("/api/team", reply(200, `{"_id":"tea_1"}`))
	if _, _, err := c.Team.Get(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, resp, err := c.Team.Get(ctx)
	rle, ok := errors.AsType[*RateLimitError](err)
	if !ok || !errors.Is(err, ErrRateLimitWait) || rle.Endpoint != "team" || rle.RetryAfter < 59*time.Minute || resp != nil {
		t.Errorf("got %v (resp %v), want a local *RateLimitError for team", err, resp)
	}
	if StatusCode(err) != 0 || hits.Load() != 1 {
		t.Errorf("StatusCode %d after %d requests; want 0 after 1", StatusCode(err), hits.Load())
	}
}

func TestKeyNeverInErrors(t *testing.T) {
	t.Parallel()
	basic := base64.StdEncoding.EncodeToString([]byte(":" + testKey))
	echo := func(status int, ct string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			w.Header().Set("Retry-After", "0.001")
			w.WriteHeader(status)
			fmt.Fprintf(w, "key %s auth %s", testKey, r.Header.Get("Authorization"))
		}
	}
	c, mux, _ := setup(t, WithTimeout(20*time.Millisecond))
	mux.HandleFunc("/api/team", echo(401, "text/plain"))
	mux.HandleFunc("/api/leads", echo(500, "text/plain"))
	mux.HandleFunc("/api/activities", echo(200, "text/html"))
	mux.HandleFunc("/api/contacts", echo(429, "text/plain"))
	mux.HandleFunc("/api/campaigns/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "json":
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":{"code":"%s","message":"bad key %[1]s"}}`, testKey)
		case "truncated":
			fmt.Fprintf(w, `{"_id":"%s`, testKey)
		case "padded": // the key straddles any cut made for the snippet
			fmt.Fprintf(w, "<html>%s%s", strings.Repeat(" ", 1000), testKey)
		default:
			<-r.Context().Done()
		}
	})
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	closed, err := NewClient(testKey, WithBaseURL("http://127.0.0.1:1/api"), WithRetry(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	limited, _, _ := setup(t, WithRateLimit(1, time.Hour))
	_, _, _ = limited.Team.Get(t.Context()) // takes the only slot
	deadline, cancel2 := context.WithTimeout(t.Context(), time.Second)
	defer cancel2()

	calls := map[string]func() error{
		"401 echo":        func() error { _, _, err := c.Team.Get(t.Context()); return err },
		"500 echo":        func() error { _, _, err := c.Leads.Get(t.Context(), "lea_1"); return err },
		"HTML 200 echo":   func() error { _, _, err := c.Activities.List(t.Context(), nil); return err },
		"429":             func() error { _, _, err := c.Contacts.GetMany(t.Context(), []string{"ctc_1"}); return err },
		"JSON message":    func() error { _, _, err := c.Campaigns.Get(t.Context(), "json"); return err },
		"truncated":       func() error { _, _, err := c.Campaigns.Get(t.Context(), "truncated"); return err },
		"padded HTML":     func() error { _, _, err := c.Campaigns.Get(t.Context(), "padded"); return err },
		"attempt timeout": func() error { _, _, err := c.Campaigns.Get(t.Context(), "slow"); return err },
		"cancelled":       func() error { _, _, err := c.Team.Get(cancelled); return err },
		"connection":      func() error { _, _, err := closed.Team.Get(t.Context()); return err },
		"local limit":     func() error { _, _, err := limited.Team.Get(deadline); return err },
		"bad options": func() error {
			_, _, err := c.Activities.List(t.Context(), &ActivityListOptions{Limit: 101})
			return err
		},
		"empty id": func() error { _, _, err := c.Leads.Get(t.Context(), ""); return err },
	}
	for name, call := range calls {
		err := call()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err)} {
			if strings.Contains(s, testKey[:12]) || strings.Contains(s, testKey[len(testKey)-12:]) || strings.Contains(s, basic[:16]) {
				t.Errorf("%s: key in error %q", name, s)
			}
		}
	}
}

// recObserver records what the client reports.
type recObserver struct {
	mu       sync.Mutex
	requests []string
	retries  []string
	waits    int
}

func (o *recObserver) Request(endpoint string, status, attempt int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, fmt.Sprintf("%s %d #%d", endpoint, status, attempt))
}

func (o *recObserver) Retry(endpoint, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.retries = append(o.retries, endpoint+" "+reason)
}

func (o *recObserver) RateLimitWait(time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.waits++
}

func TestObserver(t *testing.T) {
	t.Parallel()
	obs := &recObserver{}
	c, mux, hits := setup(t, WithObserver(obs))
	mux.HandleFunc("/api/campaigns/{id}", func(w http.ResponseWriter, r *http.Request) {
		if hits.Load() == 1 {
			w.WriteHeader(502)
			return
		}
		fmt.Fprint(w, `{"_id":"cam_secret"}`)
	})
	if _, _, err := c.Campaigns.Get(t.Context(), "cam_secret"); err != nil {
		t.Fatal(err)
	}
	want := []string{"campaigns/{id} 502 #1", "campaigns/{id} 200 #2"}
	if !slices.Equal(obs.requests, want) || !slices.Equal(obs.retries, []string{"campaigns/{id} server_error"}) || obs.waits != 2 {
		t.Errorf("requests %q, retries %q, waits %d", obs.requests, obs.retries, obs.waits)
	}
	if _, err := NewClient(testKey, WithObserver(nil)); err != nil {
		t.Errorf("WithObserver(nil): %v", err)
	}
}

func TestDefaultLimiterIsOnePerClient(t *testing.T) {
	t.Parallel()
	a, _ := NewClient(testKey)
	b, _ := NewClient(testKey)
	wl, ok := a.limiter.(*WindowLimiter)
	if !ok || wl.n != DefaultRateLimit || wl.window != DefaultRateWindow || a.limiter == b.limiter {
		t.Errorf("default limiters %#v, %#v", a.limiter, b.limiter)
	}
	shared := NewLimiters(DefaultRateLimit, DefaultRateWindow)
	a, _ = NewClient(testKey, WithLimiter(shared.For(testKey)))
	b, _ = NewClient(testKey, WithLimiter(shared.For(testKey)))
	if a.limiter != b.limiter {
		t.Error("clients of one key do not share the registry's limiter")
	}
}
