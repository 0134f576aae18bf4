package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lemlist-graphql/server/internal/tracing"
)

// Modes of the server (AUTH_MODE), as the startup log names them.
const (
	modeDemo        = "demo"        // in-process fake upstream, open
	modeServer      = "server"      // the server's own lemlist key, client tokens
	modePassthrough = "passthrough" // each client's own lemlist key
)

// config is every setting of the server. Each one comes from a flag or an
// environment variable of the same name (--cache-ttl and CACHE_TTL); the
// flag wins.
type config struct {
	Host    string
	Port    int
	Mode    string // modeDemo, modeServer or modePassthrough, resolved
	APIKey  string
	BaseURL string

	Tokens               []string // client bearer tokens (server mode)
	AllowUnauthenticated bool
	// FastRows turns graph/fastrows on (FAST_ROWS).
	FastRows bool

	RateLimit     int
	CacheTTL      time.Duration
	ResponseTTL   time.Duration // whole query answers; 0: off
	CacheMaxBytes int64
	MaxPageSize   int

	ComplexityLimit  int
	MaxUpstreamCalls int // a query's estimated upstream calls; 0: unbounded
	DepthLimit       int
	ParserTokenLimit int
	MaxBodyBytes     int64
	Introspection    bool
	CORSOrigins      []string // exact origins, or "*"
	// AllowedHosts are the Host names an open server (no tokens) answers
	// besides loopback's, against DNS rebinding; "*" is any.
	AllowedHosts []string

	RequestTimeout    time.Duration
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownGrace     time.Duration

	PollInterval time.Duration // live feed polling; 0: off
	// MaxSubsPerConn caps the live subscriptions of one websocket.
	MaxSubsPerConn int
	WebhookSecret  string // live feed webhooks; "": off (demo mode makes one up)
	// PublicURL is the server's root URL as lemlist reaches it: pass-through
	// tenants' hooks are registered to point below it (stores.go); "":
	// no registration.
	PublicURL string

	RedisURL              string // "": no Redis, every replica on its own
	RedisFallbackReplicas int    // replicas sharing a key's budget while Redis is down
	RedisNamespace        string // separates deployments sharing a Redis; "": none

	// Mirror is MIRROR resolved: "" when off, "sqlite:PATH", or a
	// postgres:// URL; MirrorTemp is set instead in demo mode's default
	// (a SQLite file in a temporary directory).
	Mirror     string
	MirrorTemp bool
	// MirrorSince is how far back the backfill reads (MIRROR_SINCE as a
	// duration), unless MirrorSinceDate is set (MIRROR_SINCE as a date).
	MirrorSince             time.Duration
	MirrorSinceDate         time.Time
	MirrorLookback          time.Duration
	MirrorReconcileInterval time.Duration
	MirrorFullReconcile     time.Duration
	MirrorLeaseTTL          time.Duration
	// TrustedDocuments are the manifest files of the only operations
	// clients may run; none: any operation.
	TrustedDocuments []string

	MetricsAddr  string
	MetricsToken string // bearer token /metrics requires; "": none
	LogLevel     string
	DemoSize     int
	DemoSeed     int64

	Tracing tracing.Config // from the standard OTEL_* variables (tracing.ParseEnv)
}

// demo reports whether the server runs on the in-process fake upstream.
func (c *config) demo() bool { return c.Mode == modeDemo }

// configError is an invalid setting; main exits with status 2.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// settingError is a configError naming the setting at fault.
func settingError(name, format string, args ...any) *configError {
	return &configError{fmt.Sprintf("invalid %s: ", envName(name)) + fmt.Sprintf(format, args...)}
}

// setting describes one setting for flags, the environment and --help.
type setting struct {
	name  string // flag name; the env name is its upper-snake form
	usage string
	def   string
	set   func(string) error
	// secret settings never have their value quoted in an error.
	secret bool
	// boolean settings may be given as a bare flag (--allow-unauthenticated).
	boolean bool
}

func envName(flagName string) string {
	return strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig reads args and the environment. It returns flag.ErrHelp after
// printing the settings when asked for help, and a *configError naming the
// setting for an invalid value.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (*config, error) {
	c := &config{}
	var (
		authMode, introspection, tokens, tokensFile, cors string
		mirrorSpec                                        string
	)
	settings := []setting{
		{name: "host", usage: "interface to listen on; default 127.0.0.1 in demo mode, 0.0.0.0 otherwise", set: strVar(&c.Host)},
		{name: "port", usage: "port to listen on (0 picks a free one)", def: "8080", set: intVar(&c.Port, 0, 65535)},
		{name: "auth-mode", usage: "auto, server, passthrough or demo (none); auto is server with LEMLIST_API_KEY, demo without it", def: "auto",
			set: enumVar(&authMode, "auto", modeServer, modePassthrough, modeDemo, "none")},
		{name: "lemlist-api-key", usage: "the server's lemlist API key (server mode)", set: strVar(&c.APIKey), secret: true},
		{name: "lemlist-base-url", usage: "lemlist-compatible API root including /api, e.g. http://127.0.0.1:9000/api; default lemlist's", set: urlVar(&c.BaseURL, apiRoot, "an http(s) URL without credentials or query, such as http://127.0.0.1:9000/api")},
		{name: "graphql-tokens", usage: "comma-separated bearer tokens clients must present in server mode (prefer the env or a file to the flag)", set: strVar(&tokens), secret: true},
		{name: "graphql-tokens-file", usage: "file of bearer tokens, one per line, # starts a comment line", set: strVar(&tokensFile)},
		{name: "allow-unauthenticated", usage: "serve the server's key without client tokens on a non-loopback interface", def: "false", set: boolVar(&c.AllowUnauthenticated), boolean: true},
		{name: "lemlist-rate-limit", usage: "upstream requests per 2 s per API key; 0 turns limiting off (benchmarks against the fake)", def: "20", set: intVar(&c.RateLimit, 0, 1000)},
		{name: "cache-ttl", usage: "how long upstream answers are cached (campaigns and the team 10x longer); 0 disables caching, identical concurrent calls are still coalesced", def: "30s", set: durVar(&c.CacheTTL)},
		{name: "response-cache-ttl", usage: "how long the answer of a query that succeeded is reused for the same query, variables and tenant (dashboards polling); adds at most this to CACHE_TTL's staleness; 0 disables", def: "5s", set: durVar(&c.ResponseTTL)},
		{name: "cache-max-bytes", usage: "memory bound of the cache, in bytes or with a KiB, MiB or GiB suffix", def: "64MiB", set: bytesVar(&c.CacheMaxBytes, 64<<10)},
		{name: "max-page-size", usage: "largest first or last a connection accepts", def: "500", set: intVar(&c.MaxPageSize, 1, 10000)},
		{name: "complexity-limit", usage: "highest cost of an operation (a connection costs its page size times its selection); 0 disables", def: "20000", set: intVar(&c.ComplexityLimit, 0, 1<<30)},
		{name: "max-upstream-calls", usage: "most upstream calls a query may be estimated at before it runs (probes of last, one list per merged type or lead, activityStats' maxUpstreamCalls, nested connections and lookups, for every row above them); beyond it the query is refused with UPSTREAM_BUDGET_EXCEEDED, whose extensions give the estimate and the limit, and an admitted query never makes more calls than its estimate; 0 disables", def: "2000", set: intVar(&c.MaxUpstreamCalls, 0, 1<<30)},
		{name: "depth-limit", usage: "deepest field nesting of an operation (introspection excluded); 0 disables", def: "12", set: intVar(&c.DepthLimit, 0, 1000)},
		{name: "parser-token-limit", usage: "most tokens a query document may have; 0 disables", def: "15000", set: intVar(&c.ParserTokenLimit, 0, 1<<24)},
		{name: "max-body-bytes", usage: "largest request body, in bytes or with a KiB or MiB suffix; larger bodies get 413", def: "1MiB", set: bytesVar(&c.MaxBodyBytes, 1<<10)},
		{name: "fast-rows", usage: "write the rows of activity connections without gqlgen's per-field executor, for the same JSON at a fraction of the CPU; false leaves every field to gqlgen", def: "true", set: boolVar(&c.FastRows), boolean: true},
		{name: "introspection", usage: "auto, true or false; auto enables introspection in demo mode only. Field suggestions follow it", def: "auto",
			set: enumVar(&introspection, "auto", "true", "false")},
		{name: "allowed-hosts", usage: `comma-separated host names (app.internal, 192.168.1.5), without port, that a server without client tokens (demo mode, or server mode without GRAPHQL_TOKENS) answers besides loopback's (localhost, 127.0.0.1, [::1]); other Host headers get 421, against DNS rebinding; * answers any name (no guard). Servers with tokens or in passthrough mode do not check Host`, set: hostsVar(&c.AllowedHosts)},
		{name: "cors-origins", usage: `comma-separated origins (https://app.example.com) allowed to call from a browser, or *; also the websocket origin check`, set: strVar(&cors)},
		{name: "request-timeout", usage: "deadline of one GraphQL request, upstream calls included", def: "15s", set: durVar(&c.RequestTimeout)},
		{name: "read-header-timeout", usage: "time to read a request's headers", def: "5s", set: durVar(&c.ReadHeaderTimeout)},
		{name: "read-timeout", usage: "time to read a whole request, body included", def: "30s", set: durVar(&c.ReadTimeout)},
		{name: "write-timeout", usage: "time to write a response, from the end of its request's headers; must exceed REQUEST_TIMEOUT; 0 disables", def: "30s", set: durVar(&c.WriteTimeout)},
		{name: "idle-timeout", usage: "how long an idle keep-alive connection stays open", def: "2m", set: durVar(&c.IdleTimeout)},
		{name: "shutdown-grace", usage: "how long in-flight requests get to finish on SIGINT or SIGTERM", def: "10s", set: durVar(&c.ShutdownGrace)},
		{name: "poll-interval", usage: "how often the live feed (subscription activityAdded) asks lemlist for new activities, per API key and filter subscribed to; at least 1s, 0 turns polling off (webhooks only); with MIRROR on, how often the mirror polls the head instead (5s when 0)", def: "5s", set: durVar(&c.PollInterval)},
		{name: "max-subscriptions-per-connection", usage: "most live subscriptions (activityAdded) one websocket connection may hold at once; more get TOO_MANY_SUBSCRIPTIONS", def: "100", set: intVar(&c.MaxSubsPerConn, 1, 100_000)},
		{name: "webhook-secret", usage: "secret lemlist echoes in its webhook calls to POST /webhooks/lemlist; in passthrough mode the calls go to /webhooks/lemlist/{tenant} and carry the tenant's random secret, kept sealed under a key derived from this one in the mirror's store or Redis (see PUBLIC_URL), or without such a store a secret derived from this one (deprecated: its holder can forge into any tenant); at least 16 characters; empty disables webhooks, except in demo mode, which makes one up", set: strVar(&c.WebhookSecret), secret: true},
		{name: "public-url", usage: "the server's root URL as lemlist reaches it (https://gql.example.com, a path prefix allowed): in passthrough mode, with WEBHOOK_SECRET and a store for the tenants' webhook secrets (MIRROR or REDIS_URL), tenants register their hooks with their key alone at POST /webhooks/lemlist/register (lemlist-hook register -passthrough), which points them at <PUBLIC_URL>/webhooks/lemlist/<tenant>; https, or http on loopback only; empty: no registration", set: urlVar(&c.PublicURL, publicURL, "an https URL (http only on loopback) without credentials, query or fragment, such as https://gql.example.com")},
		{name: "redis-url", usage: "redis://[:password@]host:port/db (rediss:// for TLS) shared by the replicas: the rate budget per API key, the response cache and the live feed's webhooks; empty keeps everything in memory (one replica)", set: urlVar(&c.RedisURL, redisURL, "a redis:// or rediss:// URL with a host, such as redis://:password@redis:6379/0"), secret: true},
		{name: "redis-namespace", usage: "separates deployments that share one Redis: the live feed's channels become lgql:<namespace>:feed:*; 1 to 64 letters, digits, '.', '-' or '_'; empty: none. Replicas sign the feed's messages with WEBHOOK_SECRET when it is set", set: patternVar(&c.RedisNamespace, `^[A-Za-z0-9._-]{1,64}$`, "1 to 64 letters, digits, '.', '-' or '_'")},
		{name: "redis-fallback-replicas", usage: "how many replicas share each key's budget while Redis is down: each then allows LEMLIST_RATE_LIMIT/this per 2 s on its own", def: "3", set: intVar(&c.RedisFallbackReplicas, 1, 1000)},
		{name: "mirror", usage: "the mirror of each team's activities that answers dashboards' stats and series (README, Mirror): off, sqlite:PATH (a file; its directory must exist), or a postgres:// URL (replicas sharing one store); auto is off with a real key (a backfill spends the key's budget) and a temporary SQLite file in demo mode", def: "auto", set: mirrorVar(&mirrorSpec)},
		{name: "mirror-since", usage: "how far back the mirror's backfill reads: days (365d), a Go duration, or a date (2025-01-31 or RFC 3339); a team mirrored already keeps its own", def: "365d", set: sinceVar(&c.MirrorSince, &c.MirrorSinceDate)},
		{name: "mirror-lookback", usage: "the recent window the mirror re-reads at each reconciliation, adding late arrivals and removing deleted activities: days (1d) or a Go duration", def: "24h", set: dayDurVar(&c.MirrorLookback)},
		{name: "mirror-reconcile-interval", usage: "how often the mirror reconciles MIRROR_LOOKBACK: days or a Go duration", def: "10m", set: dayDurVar(&c.MirrorReconcileInterval)},
		{name: "mirror-full-reconcile-interval", usage: "how often the mirror re-reads all its history to remove older deletions (about N/100 calls for N activities): days (7d) or a Go duration", def: "7d", set: dayDurVar(&c.MirrorFullReconcile)},
		{name: "mirror-lease-ttl", usage: "with a store shared by replicas (PostgreSQL), how long a replica's lease on a team's sync lasts unless renewed: another replica takes over within about this", def: "15s", set: dayDurVar(&c.MirrorLeaseTTL)},
		{name: "trusted-documents", usage: "comma-separated persisted-query manifests (Relay's {id: text} JSON, or Apollo's persisted-query manifest): only their operations run, sent by id or exact text; others get PERSISTED_QUERY_NOT_ALLOWED, unknown ids PERSISTED_QUERY_NOT_FOUND. Empty: any operation", set: listVar(&c.TrustedDocuments)},
		{name: "metrics-addr", usage: "host:port of a separate listener for /metrics; empty serves /metrics on the main port", set: strVar(&c.MetricsAddr)},
		{name: "metrics-token", usage: "bearer token that GET /metrics requires (Authorization: Bearer <token>), on the main port and on METRICS_ADDR; at least 16 printable ASCII characters; empty serves /metrics to all", set: tokenVar(&c.MetricsToken), secret: true},
		{name: "log-level", usage: "debug, info, warn or error", def: "info", set: enumVar(&c.LogLevel, "debug", "info", "warn", "error")},
		{name: "demo-activities", usage: "size of the generated demo dataset", def: "5000", set: intVar(&c.DemoSize, 1, 2_000_000)},
		{name: "demo-seed", usage: "seed of the generated demo dataset", def: "1", set: int64Var(&c.DemoSeed)},
	}
	fs := flag.NewFlagSet("lemlist-graphql", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fromFlag := map[string]string{}
	for _, s := range settings {
		if s.boolean {
			fs.BoolFunc(s.name, s.usage, func(v string) error { fromFlag[s.name] = v; return nil })
			continue
		}
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
			if s.secret {
				return nil, &configError{fmt.Sprintf("invalid %s (%s)", envName(s.name), src)}
			}
			return nil, &configError{fmt.Sprintf("invalid %s (%s): %v", envName(s.name), src, err)}
		}
	}
	if err := c.resolve(authMode, introspection, tokens, tokensFile, cors, mirrorSpec); err != nil {
		return nil, err
	}
	tc, err := tracing.ParseEnv(getenv)
	if err != nil {
		return nil, &configError{err.Error()}
	}
	c.Tracing = tc
	return c, nil
}

// resolve derives the settings that depend on others and checks them
// together.
func (c *config) resolve(authMode, introspection, tokens, tokensFile, cors, mirrorSpec string) error {
	switch authMode {
	case "auto":
		switch {
		case c.APIKey != "":
			c.Mode = modeServer
		case c.BaseURL != "":
			return settingError("auth-mode", "LEMLIST_BASE_URL is set without LEMLIST_API_KEY: set LEMLIST_API_KEY (server mode) or AUTH_MODE=passthrough (each client sends its own key)")
		default:
			c.Mode = modeDemo
		}
	case modeServer:
		if c.APIKey == "" {
			return settingError("auth-mode", "server mode needs LEMLIST_API_KEY")
		}
		c.Mode = modeServer
	case modePassthrough:
		if c.APIKey != "" {
			return settingError("auth-mode", "passthrough mode holds no key: unset LEMLIST_API_KEY, clients send their own")
		}
		c.Mode = modePassthrough
	case modeDemo, "none":
		if c.APIKey != "" || c.BaseURL != "" {
			return settingError("auth-mode", "demo mode runs on an in-process fake: unset LEMLIST_API_KEY and LEMLIST_BASE_URL")
		}
		c.Mode = modeDemo
	}
	if c.Host == "" {
		c.Host = "0.0.0.0"
		if c.demo() {
			c.Host = "127.0.0.1"
		}
	}

	var err error
	if c.Tokens, err = splitTokens(tokens); err != nil {
		return settingError("graphql-tokens", "%v", err)
	}
	if tokensFile != "" {
		fromFile, err := readTokensFile(tokensFile)
		if err != nil {
			return settingError("graphql-tokens-file", "%v", err)
		}
		c.Tokens = append(c.Tokens, fromFile...)
	}
	if len(c.Tokens) > 0 && c.Mode == modePassthrough {
		return settingError("graphql-tokens", "passthrough mode takes no client tokens: clients authenticate with their own lemlist key")
	}
	if c.Mode == modeServer && len(c.Tokens) == 0 && !isLoopback(c.Host) && !c.AllowUnauthenticated {
		return settingError("graphql-tokens",
			"refusing to let anyone reaching %s query lemlist with the server's key: set GRAPHQL_TOKENS or GRAPHQL_TOKENS_FILE, listen on loopback (HOST=127.0.0.1), or opt in with ALLOW_UNAUTHENTICATED=true", c.Host)
	}

	c.Introspection = introspection == "true" || introspection == "auto" && c.demo()
	if c.CORSOrigins, err = parseOrigins(cors); err != nil {
		return settingError("cors-origins", "%v", err)
	}
	if c.RequestTimeout <= 0 {
		return settingError("request-timeout", "must be positive")
	}
	if c.WriteTimeout > 0 && c.WriteTimeout <= c.RequestTimeout {
		return settingError("write-timeout", "%s must exceed REQUEST_TIMEOUT (%s), or responses are cut off", c.WriteTimeout, c.RequestTimeout)
	}
	if c.PollInterval > 0 && c.PollInterval < time.Second {
		return settingError("poll-interval", "%s is below 1s: each poll is a request from lemlist's budget of 20 per 2 s", c.PollInterval)
	}
	if c.WebhookSecret != "" && len(c.WebhookSecret) < 16 {
		return settingError("webhook-secret", "must be at least 16 characters")
	}
	switch mirrorSpec {
	case "off":
	case "auto":
		c.MirrorTemp = c.demo()
	default:
		c.Mirror = mirrorSpec
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return settingError("metrics-addr", "%q is not host:port", c.MetricsAddr)
		}
	}
	return nil
}

// isLoopback reports whether host names a loopback interface only.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// splitTokens splits a comma-separated list of tokens. Its errors never
// quote a token.
func splitTokens(s string) ([]string, error) {
	var out []string
	for i, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if err := checkToken(t); err != nil {
			return nil, fmt.Errorf("token %d %v", i+1, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// readTokensFile reads one token per line; blank lines and lines starting
// with # are skipped. Its errors never quote a token.
func readTokensFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if err := checkToken(t); err != nil {
			return nil, fmt.Errorf("%s line %d: token %v", path, n, err)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no token", path)
	}
	return out, nil
}

// tokenVar takes an empty value or a token of 16 printable ASCII
// characters or more. Its errors never quote the value.
func tokenVar(p *string) func(string) error {
	return func(v string) error {
		v = strings.TrimSpace(v)
		if v == "" {
			*p = ""
			return nil
		}
		if err := checkToken(v); err != nil {
			return err
		}
		if len(v) < 16 {
			return errors.New("must be at least 16 characters")
		}
		*p = v
		return nil
	}
}

func checkToken(t string) error {
	for _, r := range t {
		if r <= ' ' || r > '~' {
			return errors.New("has a character other than printable ASCII")
		}
	}
	return nil
}

// parseOrigins splits CORS_ORIGINS into exact origins (scheme://host[:port])
// or the lone wildcard "*".
func parseOrigins(s string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		switch {
		case o == "":
			continue
		case o == "*":
			out = append(out, o)
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("%q is not an origin such as https://app.example.com", o)
		}
		out = append(out, u.Scheme+"://"+strings.ToLower(u.Host))
	}
	if len(out) > 1 && slices.Contains(out, "*") {
		return nil, errors.New("* must stand alone")
	}
	return out, nil
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

// hostsVar parses ALLOWED_HOSTS: host names or IP addresses without port,
// or the lone "*".
func hostsVar(p *[]string) func(string) error {
	return func(v string) error {
		var out []string
		for _, h := range strings.Split(v, ",") {
			h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
			switch {
			case h == "":
				continue
			case h == "*":
			case net.ParseIP(strings.Trim(h, "[]")) != nil:
				h = strings.Trim(h, "[]")
			case !hostPattern.MatchString(h):
				return fmt.Errorf("%q is not a host name such as app.internal or an IP address (without scheme or port), nor *", h)
			}
			out = append(out, h)
		}
		if len(out) > 1 && slices.Contains(out, "*") {
			return errors.New("* must stand alone")
		}
		*p = out
		return nil
	}
}

// hostPattern is a DNS name: dot-separated labels of letters, digits and
// hyphens.
var hostPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// urlVar takes an empty value or a URL that valid accepts; want, in the
// error, says what is wanted. The value itself is never quoted: a Redis
// URL may hold a password.
func urlVar(p *string, valid func(*url.URL) bool, want string) func(string) error {
	return func(v string) error {
		v = strings.TrimSpace(v)
		if v == "" {
			*p = ""
			return nil
		}
		if u, err := url.Parse(v); err != nil || u.Host == "" || !valid(u) {
			return errors.New("not " + want)
		}
		*p = v
		return nil
	}
}

// apiRoot accepts an http(s) URL without credentials or query.
func apiRoot(u *url.URL) bool {
	return (u.Scheme == "http" || u.Scheme == "https") && u.User == nil && u.RawQuery == ""
}

// publicURL accepts the server's public root: https, or http on a
// loopback host, without credentials, query or fragment.
func publicURL(u *url.URL) bool {
	return (u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname())) &&
		u.User == nil && u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery
}

// redisURL accepts a redis:// or rediss:// URL.
func redisURL(u *url.URL) bool { return u.Scheme == "redis" || u.Scheme == "rediss" }

func boolVar(p *bool) func(string) error {
	return func(v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*p = b
		return nil
	}
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

// bytesVar parses a size: an integer of bytes, or one with a KiB, MiB or
// GiB suffix. It must be at least lo.
func bytesVar(p *int64, lo int64) func(string) error {
	return func(v string) error {
		s := strings.TrimSpace(v)
		mult := int64(1)
		for _, u := range []struct {
			suffix string
			mult   int64
		}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
			if strings.HasSuffix(s, u.suffix) {
				s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
				break
			}
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > (1<<40)/mult {
			return fmt.Errorf("%q is not a size such as 1048576, 512KiB or 64MiB", v)
		}
		if n*mult < lo {
			return fmt.Errorf("%q is below the minimum of %d bytes", v, lo)
		}
		*p = n * mult
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

// patternVar accepts an empty value, or one matching the regular
// expression re; want describes it in the error.
func patternVar(p *string, re, want string) func(string) error {
	valid := regexp.MustCompile(re)
	return func(v string) error {
		if v != "" && !valid.MatchString(v) {
			return fmt.Errorf("want %s, got %q", want, v)
		}
		*p = v
		return nil
	}
}

// listVar takes a comma-separated list, dropping empty items.
func listVar(p *[]string) func(string) error {
	return func(v string) error {
		*p = nil
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				*p = append(*p, item)
			}
		}
		return nil
	}
}
