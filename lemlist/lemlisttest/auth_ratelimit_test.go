package lemlisttest_test

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-key-value"
	s := newServer(t, lemlisttest.Options{APIKey: secret, Dataset: lemlisttest.DatasetOptions{Activities: 20}, RateLimit: lemlisttest.NoRateLimit})
	const q = "/activities?version=v2&limit=1"
	for _, tt := range []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"basic", func() *http.Request {
			r, _ := http.NewRequest("GET", s.URL+q, nil)
			r.SetBasicAuth("", secret)
			return r
		}, 200},
		{"basic with a username", func() *http.Request {
			r, _ := http.NewRequest("GET", s.URL+q, nil)
			r.SetBasicAuth("me", secret)
			return r
		}, 200},
		{"access_token", func() *http.Request { r, _ := http.NewRequest("GET", s.URL+q+"&access_token="+secret, nil); return r }, 200},
		{"none", func() *http.Request { r, _ := http.NewRequest("GET", s.URL+q, nil); return r }, 401},
		{"wrong basic", func() *http.Request {
			r, _ := http.NewRequest("GET", s.URL+q, nil)
			r.SetBasicAuth("", "nope")
			return r
		}, 401},
		{"wrong token", func() *http.Request { r, _ := http.NewRequest("GET", s.URL+q+"&access_token=nope", nil); return r }, 401},
		{"bearer", func() *http.Request {
			r, _ := http.NewRequest("GET", s.URL+q, nil)
			r.Header.Set("Authorization", "Bearer "+secret)
			return r
		}, 401},
		{"basic wins over token", func() *http.Request {
			r, _ := http.NewRequest("GET", s.URL+q+"&access_token="+secret, nil)
			r.SetBasicAuth("", "nope")
			return r
		}, 401},
	} {
		r := do(t, tt.req())
		if r.status != tt.status {
			t.Errorf("%s: %d %q", tt.name, r.status, r.body)
		}
		if tt.status == 401 && (r.body != lemlisttest.MsgUnauthorized || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain")) {
			t.Errorf("%s: 401 body %q type %q", tt.name, r.body, r.header.Get("Content-Type"))
		}
	}

	// The real client: wrong key is a typed 401 that does not leak the key.
	bad, err := lemlist.NewClient("wrong-"+secret, lemlist.WithBaseURL(s.URL), lemlist.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = bad.Activities.List(t.Context(), nil)
	var er *lemlist.ErrorResponse
	if !errors.As(err, &er) || er.StatusCode != 401 || er.Message != lemlisttest.MsgUnauthorized {
		t.Errorf("wrong key: %v", err)
	}

	// The log never holds the key, and drops access_token.
	log := s.Requests()
	if len(log) == 0 {
		t.Fatal("empty log")
	}
	if dump := fmt.Sprintf("%+v", log); strings.Contains(dump, secret) {
		t.Errorf("request log leaks the key: %s", dump)
	}
	tenants := map[string]int{}
	for _, r := range log {
		if r.Query.Has("access_token") {
			t.Errorf("access_token kept in %v", r.Query)
		}
		tenants[r.Tenant]++
		if r.KeyHash == "" && r.Status == 200 {
			t.Errorf("authenticated request without key hash: %+v", r)
		}
	}
	if tenants[lemlisttest.DefaultTenant] != 3 {
		t.Errorf("tenants in log: %v", tenants)
	}
}

var jsDate = regexp.MustCompile(`^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d\d \d{4} \d\d:\d\d:\d\d GMT\+0000 \(Coordinated Universal Time\)$`)

func TestRateLimitHeadersAnd429(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := newServer(t, lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{Activities: 30}, Now: clk.Now})
	get := func() rawResp { return rawGet(t, s, lemlisttest.DefaultAPIKey, "/activities?version=v2&limit=1") }

	for i := range 20 {
		r := get()
		if r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
		h := r.header
		if h.Get("X-RateLimit-Limit") != "20" || h.Get("X-RateLimit-Remaining") != strconv.Itoa(19-i) ||
			!jsDate.MatchString(h.Get("X-RateLimit-Reset")) || h.Get("Retry-After") != "2" {
			t.Fatalf("request %d headers: %v", i, h)
		}
	}
	if got := rawGet(t, s, lemlisttest.DefaultAPIKey, "/activities?version=v2&limit=1").header.Get("X-RateLimit-Reset"); got != "Thu Oct 01 2026 12:00:02 GMT+0000 (Coordinated Universal Time)" {
		t.Errorf("reset %q", got)
	}
	for range 3 { // refused requests use no budget
		r := get()
		if r.status != 429 || r.header.Get("Retry-After") != "2" || r.header.Get("X-RateLimit-Remaining") != "0" {
			t.Fatalf("over the limit: %d %v", r.status, r.header)
		}
	}
	clk.Advance(1349 * time.Millisecond)
	if r := get(); r.status != 429 || r.header.Get("Retry-After") != "0.651" {
		t.Fatalf("later: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	clk.Advance(651 * time.Millisecond) // exactly when the window slides past the burst
	if r := get(); r.status != 200 || r.header.Get("X-RateLimit-Remaining") != "19" {
		t.Fatalf("after the window: %d %v", r.status, r.header)
	}
	if n := s.MaxInWindow(); n != 20 {
		t.Errorf("MaxInWindow = %d, want 20", n)
	}

	// Sliding, not fixed: 10 now, 10 a second later, the 21st waits for
	// the first ten only.
	clk.Advance(5 * time.Second)
	for range 10 {
		get()
	}
	clk.Advance(time.Second)
	for range 10 {
		get()
	}
	clk.Advance(500 * time.Millisecond)
	if r := get(); r.status != 429 || r.header.Get("Retry-After") != "0.5" {
		t.Fatalf("sliding: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	clk.Advance(500 * time.Millisecond)
	if r := get(); r.status != 200 || r.header.Get("X-RateLimit-Remaining") != "9" {
		t.Fatalf("slid: %d remaining %q", r.status, r.header.Get("X-RateLimit-Remaining"))
	}

	// Every path is limited; unknown paths and failed auth are not.
	clk.Advance(10 * time.Second)
	for range 20 {
		rawGet(t, s, lemlisttest.DefaultAPIKey, "/team?version=v2")
	}
	if r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/campaigns/cam_x"); r.status != 429 {
		t.Errorf("21st request on another route: %d", r.status)
	}
	if r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/nope"); r.status != 200 {
		t.Errorf("unknown path while limited: %d", r.status)
	}
	if r := rawGet(t, s, "bad", "/team"); r.status != 401 || r.header.Get("X-RateLimit-Limit") != "" {
		t.Errorf("bad key while limited: %d %v", r.status, r.header)
	}
}

func TestMaxInWindowWithLimitingOff(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := newServer(t, lemlisttest.Options{
		Dataset: lemlisttest.DatasetOptions{Activities: 10}, Now: clk.Now,
		RateLimit: lemlisttest.NoRateLimit, RateWindow: time.Second,
	})
	for i := range 30 {
		r := rawGet(t, s, lemlisttest.DefaultAPIKey, "/team")
		if r.status != 200 || r.header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("request %d: %d %v", i, r.status, r.header)
		}
		clk.Advance(100 * time.Millisecond) // 10 per window
	}
	if n := s.MaxInWindow(); n != 10 {
		t.Errorf("MaxInWindow = %d, want 10", n)
	}
	for range 25 {
		rawGet(t, s, lemlisttest.DefaultAPIKey, "/team")
	}
	if n := s.MaxInWindow(); n != 25+9 {
		t.Errorf("MaxInWindow after a burst = %d, want 34", n)
	}
}

func TestClientRetriesAfter429(t *testing.T) {
	t.Parallel()
	s := newServer(t, lemlisttest.Options{
		Dataset:   lemlisttest.DatasetOptions{Activities: 50},
		RateLimit: 3, RateWindow: 150 * time.Millisecond,
	})
	c := s.Client() // client-side limiting off: the fake's 429s drive it
	for i := range 8 {
		if _, _, err := c.Activities.List(t.Context(), &lemlist.ActivityListOptions{Limit: 5}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	statuses := map[int]int{}
	for _, r := range s.Requests() {
		statuses[r.Status]++
	}
	if statuses[200] != 8 {
		t.Errorf("statuses %v, want 8 successes", statuses)
	}
	if n := s.MaxInWindow(); n > 3 {
		t.Errorf("MaxInWindow = %d > 3", n)
	}

	// Without retries the 429 surfaces as a typed error with Retry-After.
	one := s.Client(noRetry())
	var rle *lemlist.RateLimitError
	for range 10 {
		if _, _, err := one.Team.Get(t.Context()); errors.As(err, &rle) {
			break
		}
	}
	if rle == nil || rle.RetryAfter <= 0 || rle.RetryAfter > 150*time.Millisecond {
		t.Errorf("RateLimitError %+v", rle)
	}
}
