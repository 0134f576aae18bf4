package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
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
