// Command loadgen drives the GraphQL server over HTTP with a dashboard-like
// query mix and reports throughput, latency percentiles, errors, the
// server's CPU time and peak RSS (from /proc/<pid>), and the upstream calls
// the load caused.
//
// It can also host the fake lemlist upstream itself (lemlisttest) on a fixed
// loopback address, so that it counts every upstream call exactly:
//
//	loadgen -fake-listen 127.0.0.1:9100 -fake-only        # just serve the fake
//	LEMLIST_API_KEY=test-key LEMLIST_BASE_URL=http://127.0.0.1:9100/api \
//	  LEMLIST_RATE_LIMIT=0 PORT=8080 ./server &
//	loadgen -fake-listen 127.0.0.1:9100 -url http://127.0.0.1:8080/graphql \
//	  -clients 32 -duration 10s -mix page20 -pid $!
//
// With -fake-listen and a load, the fake lives for the run and its request
// log gives the upstream calls per GraphQL request. Without it,
// -upstream-metrics can read an upstream request counter from a Prometheus
// text endpoint instead.
//
// Every run is bounded: -duration at most 10m, -requests at most 10M.
// The exit status is 1 when errors exceed -max-errors or any 5xx answer was
// seen, 2 on bad flags, 3 when the server never became ready.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// Bounds of the flags.
const (
	maxDuration = 10 * time.Minute
	maxRequests = 10_000_000
	maxClients  = 1024
	maxBody     = 64 << 20
)

type options struct {
	url       string
	clients   int
	duration  time.Duration
	warmup    time.Duration
	requests  int
	mix       string
	token     string
	timeout   time.Duration
	waitReady time.Duration
	maxErrors int
	pid       int
	jsonOut   bool

	upstreamMetrics string
	upstreamMetric  string
	upstreamURL     string
	upstreamKey     string

	fakeListen     string
	fakeActivities int
	fakeSeed       int64
	fakeRateLimit  int
	fakeOnly       bool
	fakeLifetime   time.Duration

	pickPort bool
	out      string
	label    string
	table    bool
	files    []string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080/graphql", "GraphQL endpoint")
	fs.IntVar(&o.clients, "clients", 8, "concurrent clients, each sending its next request when the previous one is answered (1..1024)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured duration (at most 10m)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up before the measured run (at most 1m)")
	fs.IntVar(&o.requests, "requests", 0, "stop after this many measured requests; 0: only -duration bounds the run (at most 10000000)")
	fs.StringVar(&o.mix, "mix", "page20", "query mix: a name, name=weight,… or dashboard; names: "+kindNames())
	fs.StringVar(&o.token, "token", "", "bearer token sent as Authorization: Bearer")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "timeout of one HTTP request")
	fs.DurationVar(&o.waitReady, "wait-ready", 15*time.Second, "how long to wait for the server to answer before starting (at most 2m)")
	fs.IntVar(&o.maxErrors, "max-errors", 0, "exit 1 when more errors than this are seen (any 5xx always fails)")
	fs.IntVar(&o.pid, "pid", 0, "server pid: CPU time and RSS are read from /proc/<pid>")
	fs.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	fs.StringVar(&o.upstreamMetrics, "upstream-metrics", "", "Prometheus text endpoint to read the server's upstream request counter from, before and after the run")
	fs.StringVar(&o.upstreamMetric, "upstream-metric", "lemlist_requests_total,lemlist_upstream_requests_total,upstream_requests_total",
		"counter name(s) to read from -upstream-metrics, comma-separated: the first one present is summed over its labels")
	fs.StringVar(&o.upstreamURL, "upstream-url", "", "lemlist API root for direct100 when the fake is not in-process, e.g. http://127.0.0.1:9100/api")
	fs.StringVar(&o.upstreamKey, "upstream-key", lemlisttest.DefaultAPIKey, "API key for -upstream-url")
	fs.StringVar(&o.fakeListen, "fake-listen", "", "start the fake lemlist upstream in-process on this address (its API root is http://ADDR/api, key test-key)")
	fs.IntVar(&o.fakeActivities, "fake-activities", 100_000, "activities of the fake's dataset")
	fs.Int64Var(&o.fakeSeed, "fake-seed", 1, "seed of the fake's dataset")
	fs.IntVar(&o.fakeRateLimit, "fake-rate-limit", -1, "the fake's own rate limit in requests per 2 s; 0 or less: off")
	fs.BoolVar(&o.fakeOnly, "fake-only", false, "only serve the fake (with -fake-listen) until SIGINT/SIGTERM or -fake-lifetime")
	fs.DurationVar(&o.fakeLifetime, "fake-lifetime", 30*time.Minute, "with -fake-only, exit after this long (at most 2h)")
	fs.BoolVar(&o.pickPort, "pick-port", false, "print a free loopback TCP port and exit")
	fs.StringVar(&o.out, "out", "", "also write the JSON report to this file")
	fs.StringVar(&o.label, "label", "", "the run's name in the report and in -table")
	fs.BoolVar(&o.table, "table", false, "print a Markdown table of the JSON reports named as arguments, then exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadgen [flags]\n\nQueries:")
		for _, k := range kinds {
			fmt.Fprintf(stderr, "  %-10s %s\n", k.name, k.desc)
		}
		fmt.Fprintln(stderr, "  dashboard  page20=5,page100=1,replies=2,timeline=1,campaign=1\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.table {
		o.files = fs.Args()
		return o, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.clients < 1 || o.clients > maxClients:
		return nil, fmt.Errorf("-clients must be 1..%d", maxClients)
	case o.duration <= 0 || o.duration > maxDuration:
		return nil, fmt.Errorf("-duration must be in (0, %s]", maxDuration)
	case o.warmup < 0 || o.warmup > time.Minute:
		return nil, errors.New("-warmup must be in [0, 1m]")
	case o.requests < 0 || o.requests > maxRequests:
		return nil, fmt.Errorf("-requests must be 0..%d", maxRequests)
	case o.timeout <= 0 || o.timeout > 5*time.Minute:
		return nil, errors.New("-timeout must be in (0, 5m]")
	case o.waitReady < 0 || o.waitReady > 2*time.Minute:
		return nil, errors.New("-wait-ready must be in [0, 2m]")
	case o.maxErrors < 0:
		return nil, errors.New("-max-errors must not be negative")
	case o.fakeOnly && o.fakeListen == "":
		return nil, errors.New("-fake-only needs -fake-listen")
	case o.fakeLifetime <= 0 || o.fakeLifetime > 2*time.Hour:
		return nil, errors.New("-fake-lifetime must be in (0, 2h]")
	case o.fakeActivities < 1 || o.fakeActivities > 2_000_000:
		return nil, errors.New("-fake-activities must be 1..2000000")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	if o.table {
		if err := printTable(stdout, o.files); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
		return 0
	}
	if o.pickPort {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
		fmt.Fprintln(stdout, ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		return 0
	}
	mix, err := parseMix(o.mix)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}

	var fk *fake
	if o.fakeListen != "" {
		if fk, err = startFake(o); err != nil {
			fmt.Fprintln(stderr, "loadgen: fake upstream:", err)
			return 1
		}
		defer fk.close()
		if o.fakeOnly {
			line, _ := json.Marshal(map[string]any{
				"url": fk.url, "apiKey": lemlisttest.DefaultAPIKey,
				"activities": o.fakeActivities, "seed": o.fakeSeed, "rateLimit": o.fakeRateLimit,
			})
			fmt.Fprintln(stdout, string(line))
			select {
			case <-ctx.Done():
			case <-time.After(o.fakeLifetime):
			}
			return 0
		}
		fmt.Fprintf(stderr, "loadgen: fake upstream at %s (key %s, %d activities)\n", fk.url, lemlisttest.DefaultAPIKey, o.fakeActivities)
		if o.upstreamURL == "" {
			o.upstreamURL = fk.url
		}
	}

	l := newLoad(o, mix, fk)
	if err := l.prepare(ctx); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 3
	}
	rep, err := l.run(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	if o.out != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(o.out, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		rep.print(stdout)
	}
	code := 0
	if rep.Errors.Total > int64(o.maxErrors) {
		fmt.Fprintf(stderr, "loadgen: FAIL: %d errors, more than -max-errors %d\n", rep.Errors.Total, o.maxErrors)
		code = 1
	}
	if rep.Errors.HTTP5xx > 0 {
		fmt.Fprintf(stderr, "loadgen: FAIL: %d 5xx answers\n", rep.Errors.HTTP5xx)
		code = 1
	}
	if rep.Interrupted {
		code = 1
	}
	return code
}

// fake is the in-process fake upstream on a fixed address.
type fake struct {
	srv *lemlisttest.Server
	hs  *http.Server
	url string
}

func startFake(o *options) (*fake, error) {
	limit := lemlisttest.NoRateLimit
	if o.fakeRateLimit > 0 {
		limit = o.fakeRateLimit
	}
	ln, err := net.Listen("tcp", o.fakeListen)
	if err != nil {
		return nil, err
	}
	srv := lemlisttest.NewServer(lemlisttest.Options{
		RateLimit: limit,
		Dataset: lemlisttest.DatasetOptions{
			Seed: o.fakeSeed, Activities: o.fakeActivities,
			// The server's demo span; Now stays fixed so runs are identical.
			Span: 28 * 24 * time.Hour,
		},
	})
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = hs.Serve(ln) }()
	return &fake{srv: srv, hs: hs, url: "http://" + ln.Addr().String() + "/api"}, nil
}

func (f *fake) close() {
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = f.hs.Shutdown(sctx)
	f.srv.Close()
}

// load is one load run.
type load struct {
	o     *options
	mix   []mixEntry
	seq   []string
	fake  *fake
	hc    *http.Client
	auth  string // upstream Basic credentials for direct100
	pages map[string][]byte

	campaigns, leads []string
}

func newLoad(o *options, mix []mixEntry, fk *fake) *load {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * o.clients,
		MaxIdleConnsPerHost: 2 * o.clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	l := &load{
		o: o, mix: mix, seq: schedule(mix), fake: fk,
		hc:    &http.Client{Transport: tr, Timeout: o.timeout},
		auth:  "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+o.upstreamKey)),
		pages: map[string][]byte{},
	}
	for _, n := range []int{20, 100} {
		l.pages[fmt.Sprintf("page%d", n)], _ = json.Marshal(gqlRequest{Query: pageQuery, Variables: map[string]any{"first": n}})
	}
	l.pages["lean100"], _ = json.Marshal(gqlRequest{Query: leanQuery})
	return l
}

func (l *load) uses(name string) bool {
	for _, e := range l.mix {
		if e.name == name {
			return true
		}
	}
	return false
}

// prepare waits for the server and discovers the ids the parameterised
// queries need.
func (l *load) prepare(ctx context.Context) error {
	gql := false
	for _, e := range l.mix {
		gql = gql || e.name != "direct100"
	}
	if l.uses("direct100") && l.o.upstreamURL == "" {
		return errors.New("direct100 needs -fake-listen or -upstream-url")
	}
	deadline := time.Now().Add(l.o.waitReady)
	for {
		var err error
		if gql {
			_, err = l.graphql(ctx, nil, "ping", gqlRequest{Query: pingQuery})
		} else {
			var res result
			res = l.direct(ctx, nil)
			err = res.err()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("server not ready after %s: %v", l.o.waitReady, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !(l.uses("replies") || l.uses("timeline") || l.uses("campaign")) {
		return nil
	}
	var data struct {
		Activities struct {
			Nodes []struct {
				Campaign *struct{ ID string }
				Lead     *struct{ ID string }
			}
		}
	}
	res, err := l.graphql(ctx, &data, "discover", gqlRequest{Query: discoverQuery})
	if err == nil {
		err = res.err()
	}
	if err != nil {
		return fmt.Errorf("discovering ids: %v", err)
	}
	seenC, seenL := map[string]bool{}, map[string]bool{}
	for _, n := range data.Activities.Nodes {
		if n.Campaign != nil && !seenC[n.Campaign.ID] {
			seenC[n.Campaign.ID] = true
			l.campaigns = append(l.campaigns, n.Campaign.ID)
		}
		if n.Lead != nil && !seenL[n.Lead.ID] {
			seenL[n.Lead.ID] = true
			l.leads = append(l.leads, n.Lead.ID)
		}
	}
	if len(l.campaigns) == 0 || len(l.leads) == 0 {
		return errors.New("discovering ids: the first 100 activities name no campaign or no lead")
	}
	return nil
}

type gqlRequest struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables,omitempty"`
}

// result is the outcome of one HTTP request.
type result struct {
	kind      string
	latency   time.Duration
	status    int
	transport error
	gqlErrors int
	gqlMsg    string
	bad       string
}

func (r result) err() error {
	switch {
	case r.transport != nil:
		return r.transport
	case r.status != http.StatusOK:
		return fmt.Errorf("HTTP %d", r.status)
	case r.bad != "":
		return errors.New(r.bad)
	case r.gqlErrors > 0:
		return fmt.Errorf("GraphQL error: %s", r.gqlMsg)
	}
	return nil
}

// client is one simulated client's state.
type client struct {
	l    *load
	id   int
	n    int
	buf  bytes.Buffer
	all  hist
	per  map[string]*hist
	errs errorCounts
	msgs map[string]int64
}

// graphql posts a request and, when data is non-nil, decodes its data.
func (l *load) graphql(ctx context.Context, data any, kind string, req gqlRequest) (result, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return result{}, err
	}
	c := &client{l: l}
	res := c.post(ctx, kind, body)
	if res.transport == nil && res.status == http.StatusOK && data != nil {
		var env struct{ Data json.RawMessage }
		if err := json.Unmarshal(c.buf.Bytes(), &env); err != nil {
			return res, err
		}
		if err := json.Unmarshal(env.Data, data); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (c *client) post(ctx context.Context, kind string, body []byte) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.l.o.url, bytes.NewReader(body))
	if err != nil {
		return result{kind: kind, transport: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.l.o.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.l.o.token)
	}
	return c.do(kind, req, checkGraphQL)
}

func (l *load) direct(ctx context.Context, c *client) result {
	if c == nil {
		c = &client{l: l}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.o.upstreamURL+"/activities?version=v2&limit=100", nil)
	if err != nil {
		return result{kind: "direct100", transport: err}
	}
	req.Header.Set("Authorization", l.auth)
	req.Header.Set("Accept", "application/json")
	return c.do("direct100", req, checkJSONArray)
}

// do sends req, reads the whole answer into c.buf and classifies it.
func (c *client) do(kind string, req *http.Request, check func([]byte, *result)) result {
	res := result{kind: kind}
	start := time.Now()
	resp, err := c.l.hc.Do(req)
	if err == nil {
		c.buf.Reset()
		_, err = c.buf.ReadFrom(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		res.status = resp.StatusCode
	}
	res.latency = time.Since(start)
	if err != nil {
		res.transport = err
		return res
	}
	if res.status == http.StatusOK {
		check(c.buf.Bytes(), &res)
	} else if res.status >= 400 && res.status < 500 {
		// Validation errors (422) and auth errors: keep the message.
		res.gqlMsg = snippet(c.buf.Bytes())
	}
	return res
}

// checkGraphQL looks for a non-empty top-level "errors" array. It decodes
// the body only when the word "errors" occurs in it, which keeps the load
// generator's own CPU use low on large pages.
func checkGraphQL(body []byte, res *result) {
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		res.bad = "answer is not a JSON object: " + snippet(b)
		return
	}
	if !bytes.Contains(b, []byte(`"errors"`)) {
		if !bytes.Contains(b, []byte(`"data"`)) {
			res.bad = "answer has neither data nor errors: " + snippet(b)
		}
		return
	}
	var top struct {
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(b, &top); err != nil {
		res.bad = "malformed JSON: " + err.Error()
		return
	}
	res.gqlErrors = len(top.Errors)
	if len(top.Errors) > 0 {
		res.gqlMsg = top.Errors[0].Message
		if code, ok := top.Errors[0].Extensions["code"].(string); ok {
			res.gqlMsg = code + ": " + res.gqlMsg
		}
	}
}

func checkJSONArray(body []byte, res *result) {
	b := bytes.TrimSpace(body)
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		res.bad = "upstream answer is not a JSON array: " + snippet(b)
	}
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// errorCounts are the failures of a run. A request counts once, in the
// first class that applies: transport, then HTTP status, then body.
type errorCounts struct {
	Total     int64 `json:"total"`
	Transport int64 `json:"transport"`
	// HTTPNon200 counts every answer whose status is not 200, 5xx included.
	HTTPNon200 int64 `json:"http_non200"`
	HTTP5xx    int64 `json:"http_5xx"`
	// GraphQL counts 200 answers with a non-empty errors array.
	GraphQL int64 `json:"graphql"`
	// BadBody counts 200 answers that are not the expected JSON.
	BadBody int64 `json:"bad_body"`
}

func (e *errorCounts) add(o errorCounts) {
	e.Total += o.Total
	e.Transport += o.Transport
	e.HTTPNon200 += o.HTTPNon200
	e.HTTP5xx += o.HTTP5xx
	e.GraphQL += o.GraphQL
	e.BadBody += o.BadBody
}

func (c *client) record(res result) {
	c.all.record(res.latency)
	h := c.per[res.kind]
	if h == nil {
		h = &hist{}
		c.per[res.kind] = h
	}
	h.record(res.latency)
	var msg string
	switch {
	case res.transport != nil:
		c.errs.Transport++
		msg = "transport: " + res.transport.Error()
	case res.status != http.StatusOK:
		c.errs.HTTPNon200++
		if res.status >= 500 {
			c.errs.HTTP5xx++
		}
		msg = fmt.Sprintf("HTTP %d: %s", res.status, res.gqlMsg)
	case res.bad != "":
		c.errs.BadBody++
		msg = res.bad
	case res.gqlErrors > 0:
		c.errs.GraphQL++
		msg = "GraphQL: " + res.gqlMsg
	default:
		return
	}
	c.errs.Total++
	if len(c.msgs) < 20 || c.msgs[res.kind+" "+msg] > 0 {
		c.msgs[res.kind+" "+msg]++
	}
}

// op runs one entry of the mix: one HTTP request, or two for timeline.
// take claims a request slot; op returns false when take refuses the first
// one, once the run is over.
func (c *client) op(ctx context.Context, kind string, take func() bool, emit func(result)) bool {
	l := c.l
	c.n++
	pickC := func() string { return l.campaigns[(c.id*7+c.n)%len(l.campaigns)] }
	pickL := func() string { return l.leads[(c.id*13+c.n)%len(l.leads)] }
	if !take() {
		return false
	}
	switch kind {
	case "page20", "page100", "lean100":
		emit(c.post(ctx, kind, l.pages[kind]))
	case "direct100":
		emit(l.direct(ctx, c))
	case "replies":
		body, _ := json.Marshal(gqlRequest{Query: repliesQuery, Variables: map[string]any{"campaign": pickC()}})
		emit(c.post(ctx, kind, body))
	case "campaign":
		body, _ := json.Marshal(gqlRequest{Query: campaignQuery, Variables: map[string]any{"campaign": pickC()}})
		emit(c.post(ctx, kind, body))
	case "timeline":
		lead := pickL()
		body, _ := json.Marshal(gqlRequest{Query: timelineQuery, Variables: map[string]any{"lead": lead}})
		res := c.post(ctx, kind, body)
		emit(res)
		if res.err() != nil {
			return true
		}
		var page struct {
			Data struct {
				Activities struct {
					PageInfo struct {
						HasNextPage bool
						EndCursor   *string
					}
				}
			}
		}
		if err := json.Unmarshal(c.buf.Bytes(), &page); err != nil {
			return true
		}
		pi := page.Data.Activities.PageInfo
		if !pi.HasNextPage || pi.EndCursor == nil || !take() {
			return true
		}
		body, _ = json.Marshal(gqlRequest{Query: timelineQuery, Variables: map[string]any{"lead": lead, "after": *pi.EndCursor}})
		emit(c.post(ctx, kind, body))
	}
	return true
}

// phase runs every client until the deadline or until take refuses.
// When record is false (warm-up) nothing is kept.
func (l *load) phase(ctx context.Context, d time.Duration, budget int64, record bool) []*client {
	deadline := time.Now().Add(d)
	var taken atomic.Int64
	take := func() bool {
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		return budget <= 0 || taken.Add(1) <= budget
	}
	clients := make([]*client, l.o.clients)
	var wg sync.WaitGroup
	for i := range clients {
		c := &client{l: l, id: i, per: map[string]*hist{}, msgs: map[string]int64{}}
		clients[i] = c
		wg.Go(func() {
			emit := func(res result) {
				if record {
					c.record(res)
				}
			}
			// Clients start at different places of the schedule.
			// The loop ends when take refuses: at the deadline, when the
			// budget is spent, or on SIGINT.
			for j := i; c.op(ctx, l.seq[j%len(l.seq)], take, emit); j++ {
			}
		})
	}
	wg.Wait()
	return clients
}

func (l *load) upstreamCount() (float64, string, error) {
	if l.o.upstreamMetrics == "" {
		return 0, "", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.o.upstreamMetrics, nil)
	if err != nil {
		return 0, "", err
	}
	if l.o.token != "" {
		req.Header.Set("Authorization", "Bearer "+l.o.token)
	}
	resp, err := l.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, "", fmt.Errorf("%s: HTTP %d", l.o.upstreamMetrics, resp.StatusCode)
	}
	for _, name := range strings.Split(l.o.upstreamMetric, ",") {
		if v, ok := sumCounter(body, strings.TrimSpace(name)); ok {
			return v, name, nil
		}
	}
	return 0, "", fmt.Errorf("%s has none of %s", l.o.upstreamMetrics, l.o.upstreamMetric)
}

// routeOf folds ids out of an upstream path: /campaigns/cam_x is
// /campaigns/{id}.
func routeOf(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if i >= 2 && p != "" {
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}

// sumCounter sums every sample of metric name in a Prometheus text
// exposition.
func sumCounter(body []byte, name string) (float64, bool) {
	var sum float64
	found := false
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// run warms up, then measures.
func (l *load) run(ctx context.Context) (*report, error) {
	if l.o.warmup > 0 {
		l.phase(ctx, l.o.warmup, 0, false)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	rep := &report{
		Label: l.o.label, URL: l.o.url, Clients: l.o.clients, Mix: l.o.mix, Duration: l.o.duration.String(),
		Warmup: l.o.warmup.String(), MaxRequests: l.o.requests,
	}
	var p0 procSample
	var perr error
	if l.o.pid > 0 {
		p0, perr = readProc(l.o.pid)
	}
	self0, _ := readProc(os.Getpid())
	m0, metricName, merr := l.upstreamCount()
	if l.fake != nil {
		l.fake.srv.ResetRequests()
	}
	start := time.Now()
	clients := l.phase(ctx, l.o.duration, int64(l.o.requests), true)
	elapsed := time.Since(start)
	rep.Interrupted = ctx.Err() != nil
	if self1, err := readProc(os.Getpid()); err == nil && self0.CPU > 0 {
		// The load generator's own CPU (clients and, with -fake-listen, the
		// fake upstream): on a small machine it competes with the server.
		rep.LoadgenCores = float64(self1.CPU-self0.CPU) / float64(elapsed)
	}

	var all hist
	per := map[string]*hist{}
	perErr := map[string]*errorCounts{}
	msgs := map[string]int64{}
	for _, c := range clients {
		all.merge(&c.all)
		for k, h := range c.per {
			if per[k] == nil {
				per[k] = &hist{}
			}
			per[k].merge(h)
		}
		rep.Errors.add(c.errs)
		for m, n := range c.msgs {
			msgs[m] += n
			k, _, _ := strings.Cut(m, " ")
			if perErr[k] == nil {
				perErr[k] = &errorCounts{}
			}
			perErr[k].Total += n
		}
	}
	rep.Requests = int64(all.n)
	rep.ElapsedS = elapsed.Seconds()
	rep.Throughput = float64(all.n) / elapsed.Seconds()
	rep.Latency = latencyOf(&all)
	names := make([]string, 0, len(per))
	for k := range per {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		q := queryStats{Name: k, Requests: int64(per[k].n), Latency: latencyOf(per[k])}
		if e := perErr[k]; e != nil {
			q.Errors = e.Total
		}
		rep.Queries = append(rep.Queries, q)
	}
	for m, n := range msgs {
		rep.ErrorSamples = append(rep.ErrorSamples, errorSample{m, n})
	}
	sort.Slice(rep.ErrorSamples, func(i, j int) bool { return rep.ErrorSamples[i].Count > rep.ErrorSamples[j].Count })

	if l.o.pid > 0 {
		sv := &serverStats{PID: l.o.pid}
		p1, err := readProc(l.o.pid)
		if perr == nil {
			perr = err
		}
		if perr != nil {
			sv.Error = perr.Error()
		} else {
			sv.CPUms = float64(p1.CPU-p0.CPU) / float64(time.Millisecond)
			if all.n > 0 {
				sv.CPUmsPerRequest = sv.CPUms / float64(all.n)
			}
			sv.CPUUtil = float64(p1.CPU-p0.CPU) / float64(elapsed)
			sv.PeakRSSMB = float64(p1.HWMkB) / 1024
			sv.RSSStartMB = float64(p0.RSSkB) / 1024
			sv.RSSEndMB = float64(p1.RSSkB) / 1024
		}
		rep.Server = sv
	}

	if l.fake != nil {
		up := &upstreamStats{Source: "fake", ByPath: map[string]int64{}, ByStatus: map[string]int64{}}
		for _, r := range l.fake.srv.Requests() {
			up.Calls++
			up.ByPath[routeOf(r.Path)]++
			up.ByStatus[strconv.Itoa(r.Status)]++
		}
		up.MaxInWindow = l.fake.srv.MaxInWindow()
		up.finish(rep, elapsed)
		rep.Upstream = up
	} else if l.o.upstreamMetrics != "" {
		up := &upstreamStats{Source: "metrics " + metricName}
		m1, _, err := l.upstreamCount()
		if merr == nil {
			merr = err
		}
		if merr != nil {
			up.Error = merr.Error()
		} else {
			up.Calls = int64(m1 - m0)
			up.finish(rep, elapsed)
		}
		rep.Upstream = up
	}
	return rep, nil
}

type latency struct {
	P50  float64 `json:"p50_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func latencyOf(h *hist) latency {
	return latency{
		P50: ms(h.quantile(0.50)), P95: ms(h.quantile(0.95)), P99: ms(h.quantile(0.99)),
		Max: ms(time.Duration(h.max)), Mean: ms(h.mean()),
	}
}

type queryStats struct {
	Name     string  `json:"name"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Latency  latency `json:"latency"`
}

type errorSample struct {
	Message string `json:"message"`
	Count   int64  `json:"count"`
}

type serverStats struct {
	PID             int     `json:"pid"`
	CPUms           float64 `json:"cpu_ms"`
	CPUmsPerRequest float64 `json:"cpu_ms_per_request"`
	CPUUtil         float64 `json:"cpu_cores_used"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`
	RSSStartMB      float64 `json:"rss_start_mb"`
	RSSEndMB        float64 `json:"rss_end_mb"`
	Error           string  `json:"error,omitempty"`
}

type upstreamStats struct {
	Source          string           `json:"source"`
	Calls           int64            `json:"calls"`
	CallsPerSecond  float64          `json:"calls_per_s"`
	CallsPerRequest float64          `json:"calls_per_request"`
	ByPath          map[string]int64 `json:"by_path,omitempty"`
	ByStatus        map[string]int64 `json:"by_status,omitempty"`
	MaxInWindow     int              `json:"max_in_2s_window,omitempty"`
	Error           string           `json:"error,omitempty"`
}

func (u *upstreamStats) finish(rep *report, elapsed time.Duration) {
	u.CallsPerSecond = float64(u.Calls) / elapsed.Seconds()
	if rep.Requests > 0 {
		u.CallsPerRequest = float64(u.Calls) / float64(rep.Requests)
	}
}

type report struct {
	Label        string         `json:"label,omitempty"`
	URL          string         `json:"url"`
	Clients      int            `json:"clients"`
	Mix          string         `json:"mix"`
	Duration     string         `json:"duration"`
	Warmup       string         `json:"warmup"`
	MaxRequests  int            `json:"max_requests,omitempty"`
	Interrupted  bool           `json:"interrupted,omitempty"`
	Requests     int64          `json:"requests"`
	ElapsedS     float64        `json:"elapsed_s"`
	Throughput   float64        `json:"throughput_rps"`
	Latency      latency        `json:"latency"`
	Queries      []queryStats   `json:"queries"`
	Errors       errorCounts    `json:"errors"`
	ErrorSamples []errorSample  `json:"error_samples,omitempty"`
	LoadgenCores float64        `json:"loadgen_cpu_cores"`
	Server       *serverStats   `json:"server,omitempty"`
	Upstream     *upstreamStats `json:"upstream,omitempty"`
}

func (r *report) print(w io.Writer) {
	if r.Label != "" {
		fmt.Fprintf(w, "== %s\n", r.Label)
	}
	fmt.Fprintf(w, "loadgen: %d clients, %s (after %s warm-up), mix %s -> %s\n", r.Clients, r.Duration, r.Warmup, r.Mix, r.URL)
	fmt.Fprintf(w, "requests   %d in %.2fs = %.1f req/s (loadgen itself used %.2f cores)\n", r.Requests, r.ElapsedS, r.Throughput, r.LoadgenCores)
	pl := func(l latency) string {
		return fmt.Sprintf("p50 %.2fms  p95 %.2fms  p99 %.2fms  max %.2fms  mean %.2fms", l.P50, l.P95, l.P99, l.Max, l.Mean)
	}
	fmt.Fprintf(w, "latency    %s\n", pl(r.Latency))
	for _, q := range r.Queries {
		fmt.Fprintf(w, "  %-10s %7d req, %d errors, %s\n", q.Name, q.Requests, q.Errors, pl(q.Latency))
	}
	e := r.Errors
	fmt.Fprintf(w, "errors     %d (transport %d, HTTP non-200 %d of which 5xx %d, GraphQL errors %d, bad body %d)\n",
		e.Total, e.Transport, e.HTTPNon200, e.HTTP5xx, e.GraphQL, e.BadBody)
	for i, s := range r.ErrorSamples {
		if i == 5 {
			break
		}
		fmt.Fprintf(w, "  %6d x %s\n", s.Count, s.Message)
	}
	if s := r.Server; s != nil {
		if s.Error != "" {
			fmt.Fprintf(w, "server     pid %d: %s\n", s.PID, s.Error)
		} else {
			fmt.Fprintf(w, "server     pid %d: CPU %.0f ms = %.3f ms/request (%.2f cores); peak RSS (VmHWM) %.1f MB, RSS %.1f -> %.1f MB\n",
				s.PID, s.CPUms, s.CPUmsPerRequest, s.CPUUtil, s.PeakRSSMB, s.RSSStartMB, s.RSSEndMB)
		}
	}
	if u := r.Upstream; u != nil {
		if u.Error != "" {
			fmt.Fprintf(w, "upstream   %s: %s\n", u.Source, u.Error)
		} else {
			fmt.Fprintf(w, "upstream   %s: %d calls = %.2f per request, %.1f/s", u.Source, u.Calls, u.CallsPerRequest, u.CallsPerSecond)
			if len(u.ByPath) > 0 {
				fmt.Fprintf(w, "; by path %v; by status %v; max in a 2 s window %d", u.ByPath, u.ByStatus, u.MaxInWindow)
			}
			fmt.Fprintln(w)
		}
	}
}

// printTable prints the JSON reports in files as one Markdown table.
func printTable(w io.Writer, files []string) error {
	fmt.Fprintln(w, "| run | mix | clients | requests | req/s | p50 ms | p95 ms | p99 ms | errors (GraphQL / non-200 / 5xx) | server CPU ms/req | server cores | peak RSS MB | upstream calls/req | upstream calls/s | loadgen cores |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var r report
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		name := r.Label
		if name == "" {
			name = f
		}
		cpu, cores, rss := "–", "–", "–"
		if s := r.Server; s != nil && s.Error == "" {
			cpu = fmt.Sprintf("%.3f", s.CPUmsPerRequest)
			cores = fmt.Sprintf("%.2f", s.CPUUtil)
			rss = fmt.Sprintf("%.1f", s.PeakRSSMB)
		}
		upr, ups := "–", "–"
		if u := r.Upstream; u != nil && u.Error == "" {
			upr = fmt.Sprintf("%.2f", u.CallsPerRequest)
			ups = fmt.Sprintf("%.1f", u.CallsPerSecond)
		}
		e := r.Errors
		fmt.Fprintf(w, "| %s | %s | %d | %d | %.1f | %.2f | %.2f | %.2f | %d (%d / %d / %d) | %s | %s | %s | %s | %s | %.2f |\n",
			name, r.Mix, r.Clients, r.Requests, r.Throughput, r.Latency.P50, r.Latency.P95, r.Latency.P99,
			e.Total, e.GraphQL, e.HTTPNon200, e.HTTP5xx, cpu, cores, rss, upr, ups, r.LoadgenCores)
	}
	return nil
}
