package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	var h hist
	r := rand.New(rand.NewPCG(1, 2))
	var vals []time.Duration
	for range 20000 {
		d := time.Duration(r.ExpFloat64() * float64(3*time.Millisecond))
		vals = append(vals, d)
		h.record(d)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.95, 0.99} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := h.quantile(q)
		if diff := float64(got-exact) / float64(exact); diff > 0.02 || diff < -0.02 {
			t.Errorf("q%.2f = %v, exact %v (%.1f%% off)", q, got, exact, diff*100)
		}
	}
	var m hist
	m.merge(&h)
	if m.n != h.n || m.quantile(0.5) != h.quantile(0.5) || m.max != h.max {
		t.Error("merge lost data")
	}
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1 << 40, 1<<63 + 12345} {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d out of range", v, i)
		}
		mid := bucketMid(i)
		if v >= 128 && (float64(mid)-float64(v))/float64(v) > 0.016 {
			t.Errorf("bucket of %d has mid %d", v, mid)
		}
	}
}

func TestParseMix(t *testing.T) {
	m, err := parseMix("page20=3,page100")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(schedule(m), " "); got != "page20 page100 page20 page20" {
		t.Errorf("schedule = %q", got)
	}
	if _, err := parseMix("dashboard"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "stats", "page20=0", "page20,page20", "page20=x"} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("parseMix(%q) accepted", bad)
		}
	}
}

func TestProcParsing(t *testing.T) {
	cpu, err := parseStatCPU([]byte("42 (a) b (c)) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0"))
	if err != nil || cpu != 2*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 2s", cpu, err)
	}
	hwm, rss := parseStatusMem([]byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"))
	if hwm != 2048 || rss != 1024 {
		t.Errorf("parseStatusMem = %d, %d", hwm, rss)
	}
	s, err := readProc(os.Getpid())
	if err != nil || s.HWMkB <= 0 {
		t.Errorf("readProc(self) = %+v, %v", s, err)
	}
}

func TestSumCounter(t *testing.T) {
	body := []byte("# TYPE lemlist_requests_total counter\nlemlist_requests_total{route=\"activities\",status=\"200\"} 12\nlemlist_requests_total{route=\"leads\"} 3\nlemlist_requests_total_other 99\n")
	if v, ok := sumCounter(body, "lemlist_requests_total"); !ok || v != 15 {
		t.Errorf("sumCounter = %v, %v", v, ok)
	}
	if _, ok := sumCounter(body, "nope"); ok {
		t.Error("found a missing metric")
	}
	if got := routeOf("/campaigns/cam_1"); got != "/campaigns/{id}" {
		t.Errorf("routeOf = %q", got)
	}
}

// stub is a GraphQL endpoint that answers every query with a fixed page,
// or with failures as configured.
type stub struct {
	graphqlErrors atomic.Bool
	status500     atomic.Bool
	auth          atomic.Value // string
	requests      atomic.Int64
}

func (s *stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req gqlRequest
	_ = json.Unmarshal(body, &req)
	s.auth.Store(r.Header.Get("Authorization"))
	if strings.Contains(req.Query, "Ping") {
		_, _ = io.WriteString(w, `{"data":{"__typename":"Query"}}`)
		return
	}
	s.requests.Add(1)
	switch {
	case s.status500.Load():
		http.Error(w, "boom", http.StatusInternalServerError)
	case s.graphqlErrors.Load():
		_, _ = io.WriteString(w, `{"errors":[{"message":"upstream down","extensions":{"code":"UPSTREAM_UNAVAILABLE"}}],"data":null}`)
	case strings.Contains(req.Query, "Discover"):
		_, _ = io.WriteString(w, `{"data":{"activities":{"nodes":[{"campaign":{"id":"cam_1"},"lead":{"id":"lea_1"}}]}}}`)
	default:
		_, _ = io.WriteString(w, `{"data":{"activities":{"edges":[],"pageInfo":{"hasNextPage":true,"endCursor":"c1"}}}}`)
	}
}

func runLoadgen(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunCountsAndFails(t *testing.T) {
	s := &stub{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	base := []string{"-url", srv.URL, "-clients", "3", "-duration", "300ms", "-warmup", "50ms", "-wait-ready", "2s"}

	code, out, errOut := runLoadgen(t, append(base, "-mix", "dashboard", "-json", "-pid", "1", "-token", "tok")...)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Requests == 0 || rep.Errors.Total != 0 || len(rep.Queries) != 5 {
		t.Errorf("report: %+v", rep)
	}
	if got := s.auth.Load(); got != "Bearer tok" {
		t.Errorf("Authorization = %v", got)
	}

	s.graphqlErrors.Store(true)
	code, out, _ = runLoadgen(t, append(base, "-mix", "page20", "-requests", "10", "-json")...)
	if code != 1 {
		t.Errorf("GraphQL errors: exit %d, want 1", code)
	}
	rep = report{}
	_ = json.Unmarshal([]byte(out), &rep)
	if rep.Requests != 10 || rep.Errors.GraphQL != 10 || rep.Errors.HTTPNon200 != 0 {
		t.Errorf("GraphQL errors: %+v", rep.Errors)
	}
	if code, _, _ := runLoadgen(t, append(base, "-mix", "page20", "-requests", "10", "-max-errors", "10")...); code != 0 {
		t.Errorf("within -max-errors: exit %d", code)
	}

	s.graphqlErrors.Store(false)
	s.status500.Store(true)
	code, out, _ = runLoadgen(t, append(base, "-mix", "page20", "-requests", "5", "-max-errors", "100", "-json")...)
	rep = report{}
	_ = json.Unmarshal([]byte(out), &rep)
	if code != 1 || rep.Errors.HTTP5xx != 5 || rep.Errors.HTTPNon200 != 5 {
		t.Errorf("5xx: exit %d, %+v", code, rep.Errors)
	}
}

func TestRunWithFake(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a dataset")
	}
	port := func() string {
		code, out, _ := runLoadgen(t, "-pick-port")
		if code != 0 {
			t.Fatal("pick-port failed")
		}
		return strings.TrimSpace(out)
	}()
	dir := t.TempDir()
	code, out, errOut := runLoadgen(t, "-fake-listen", "127.0.0.1:"+port, "-fake-activities", "2000",
		"-mix", "direct100", "-clients", "2", "-duration", "200ms", "-warmup", "0s", "-out", dir+"/r.json", "-label", "direct")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if !strings.Contains(out, "upstream   fake:") {
		t.Errorf("no upstream line:\n%s", out)
	}
	code, out, _ = runLoadgen(t, "-table", dir+"/r.json")
	if code != 0 || !strings.Contains(out, "| direct | direct100 | 2 |") {
		t.Errorf("table: exit %d\n%s", code, out)
	}
}

func TestFlagBounds(t *testing.T) {
	for _, args := range [][]string{
		{"-duration", "11m"}, {"-clients", "0"}, {"-requests", "-1"}, {"-mix", "stats"}, {"-fake-only"}, {"extra"},
	} {
		if code, _, _ := runLoadgen(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
