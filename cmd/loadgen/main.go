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
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
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
