// Command fakeserver runs lemlisttest's fake of lemlist's REST API on
// 127.0.0.1 as a process of its own, for the end-to-end tests in
// test/e2e: the GraphQL server is pointed at it with LEMLIST_BASE_URL, and
// the test scripts read the expected data straight from it.
//
// It prints one JSON line on stdout once it listens:
//
//	{"url":"http://127.0.0.1:PORT/api","apiKey":"test-key","activities":5000,"seed":1,"now":"2026-10-01T00:00:00Z"}
//
// then blocks until SIGINT or SIGTERM. The dataset is fixed by --seed,
// --activities and --now (never the wall clock), and rate limiting is off,
// so every run serves byte-identical data.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

func main() {
	seed := flag.Int64("seed", 1, "seed of the generated dataset")
	size := flag.Int("activities", 5000, "number of generated activities")
	nowFlag := flag.String("now", "2026-10-01T00:00:00Z", "the dataset's present (RFC 3339); activities lie in the 28 days before it")
	flag.Parse()

	now, err := time.Parse(time.RFC3339, *nowFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeserver: --now:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fake := lemlisttest.NewServer(lemlisttest.Options{
		RateLimit: lemlisttest.NoRateLimit,
		Dataset: lemlisttest.DatasetOptions{
			Seed: *seed, Activities: *size,
			Now: now, Span: 28 * 24 * time.Hour, // as the demo mode of the server
		},
	})
	defer fake.Close()

	line, _ := json.Marshal(map[string]any{
		"url":        fake.URL,
		"apiKey":     lemlisttest.DefaultAPIKey,
		"activities": *size,
		"seed":       *seed,
		"now":        now.UTC().Format(time.RFC3339),
	})
	fmt.Println(string(line))

	<-ctx.Done()
}
