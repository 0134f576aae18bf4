package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// config is every setting of the server. Each one comes from a flag or an
// environment variable of the same name (--cache-ttl and CACHE_TTL); the
// flag wins.
type config struct {
	Host           string
	Port           int
	APIKey         string
	BaseURL        string
	RateLimit      int
	MaxPageSize    int
	RequestTimeout time.Duration
	ShutdownGrace  time.Duration
	LogLevel       string
	DemoSize       int
	DemoSeed       int64
}

// demo reports whether the server runs on the in-process fake upstream.
func (c *config) demo() bool { return c.APIKey == "" && c.BaseURL == "" }

// configError is an invalid setting; main exits with status 2.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// setting describes one setting for flags, the environment and --help.
type setting struct {
	name  string // flag name; the env name is its upper-snake form
	usage string
	def   string
	set   func(string) error
}

func envName(flagName string) string {
	return strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig reads args and the environment. It returns flag.ErrHelp after
// printing the settings when asked for help.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (*config, error) {
	c := &config{}
	settings := []setting{
		{"host", "interface to listen on; default 127.0.0.1 in demo mode, 0.0.0.0 otherwise", "", strVar(&c.Host)},
		{"port", "port to listen on", "8080", intVar(&c.Port, 0, 65535)},
		{"lemlist-api-key", "lemlist API key; when set, the server calls the real API (or LEMLIST_BASE_URL)", "", strVar(&c.APIKey)},
		{"lemlist-base-url", "lemlist-compatible API root including /api, e.g. http://127.0.0.1:9000/api", "", strVar(&c.BaseURL)},
		{"lemlist-rate-limit", "upstream requests per 2 s per API key; 0 turns limiting off (benchmarks against the fake)", "20", intVar(&c.RateLimit, 0, 1000)},
		{"max-page-size", "largest first or last a connection accepts", "500", intVar(&c.MaxPageSize, 1, 10000)},
		{"request-timeout", "deadline of one GraphQL request, upstream calls included", "15s", durVar(&c.RequestTimeout)},
		{"shutdown-grace", "how long in-flight requests get to finish on SIGINT or SIGTERM", "10s", durVar(&c.ShutdownGrace)},
		{"log-level", "debug, info, warn or error", "info", enumVar(&c.LogLevel, "debug", "info", "warn", "error")},
		{"demo-activities", "size of the generated demo dataset", "5000", intVar(&c.DemoSize, 1, 2_000_000)},
		{"demo-seed", "seed of the generated demo dataset", "1", int64Var(&c.DemoSeed)},
	}
	fs := flag.NewFlagSet("lemlist-graphql", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fromFlag := map[string]string{}
	for _, s := range settings {
		fs.Func(s.name, s.usage, func(v string) error { fromFlag[s.name] = v; return nil })
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(out, settings)
			return nil, flag.ErrHelp
		}
		return nil, &configError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, &configError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	for _, s := range settings {
		v, src := s.def, "default"
		if e := getenv(envName(s.name)); e != "" {
			v, src = e, envName(s.name)
		}
		if f, ok := fromFlag[s.name]; ok {
			v, src = f, "--"+s.name
		}
		if err := s.set(v); err != nil {
			return nil, &configError{fmt.Sprintf("invalid %s (%s): %v", envName(s.name), src, err)}
		}
	}
	if c.Host == "" {
		c.Host = "0.0.0.0"
		if c.demo() {
			c.Host = "127.0.0.1"
		}
	}
	return c, nil
}

func printHelp(out io.Writer, settings []setting) {
	fmt.Fprintln(out, "lemlist-graphql: a GraphQL API over lemlist activities.")
	fmt.Fprintln(out, "\nEvery setting is a flag or an environment variable of the same name; the flag wins.")
	fmt.Fprintln(out, "With no setting at all, the server runs a demo on an in-process fake of lemlist.")
	fmt.Fprintln(out)
	sorted := append([]setting(nil), settings...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, s := range sorted {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(out, "  --%s, %s (default %s)\n      %s\n", s.name, envName(s.name), def, s.usage)
	}
}

func strVar(p *string) func(string) error {
	return func(v string) error { *p = strings.TrimSpace(v); return nil }
}

func intVar(p *int, lo, hi int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		if n < lo || n > hi {
			return fmt.Errorf("%d is out of range %d..%d", n, lo, hi)
		}
		*p = n
		return nil
	}
}

func int64Var(p *int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		*p = n
		return nil
	}
}

func durVar(p *time.Duration) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a Go duration such as 30s or 1m", v)
		}
		if d < 0 {
			return fmt.Errorf("%s is negative", d)
		}
		*p = d
		return nil
	}
}

func enumVar(p *string, allowed ...string) func(string) error {
	return func(v string) error {
		v = strings.ToLower(strings.TrimSpace(v))
		for _, a := range allowed {
			if v == a {
				*p = v
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
	}
}
