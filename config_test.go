package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// allSettings is every setting; --help must list each one.
var allSettings = []string{
	"host", "port", "auth-mode", "lemlist-api-key", "lemlist-base-url",
	"graphql-tokens", "graphql-tokens-file", "allow-unauthenticated",
	"lemlist-rate-limit", "cache-ttl", "cache-max-bytes", "max-page-size",
	"complexity-limit", "depth-limit", "parser-token-limit", "max-body-bytes",
	"introspection", "cors-origins", "request-timeout", "read-header-timeout",
	"read-timeout", "write-timeout", "idle-timeout", "shutdown-grace",
	"trusted-documents", "metrics-addr", "log-level", "demo-activities", "demo-seed",
	"poll-interval", "webhook-secret", "redis-url", "redis-namespace", "redis-fallback-replicas", "response-cache-ttl", "fast-rows",
	"mirror", "mirror-since", "mirror-lookback", "mirror-reconcile-interval", "mirror-full-reconcile-interval", "mirror-lease-ttl",
	"allowed-hosts", "metrics-token", "max-subscriptions-per-connection", "max-upstream-calls",
	"public-url",
}

func TestHelpListsEverySetting(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(t.Context(), []string{"--help"}, envFunc(nil), &out)
	if !errors.Is(err, flag.ErrHelp) || exitCode(err) != 0 {
		t.Fatalf("run --help = %v (exit %d)", err, exitCode(err))
	}
	help := out.String()
	for _, s := range allSettings {
		want := fmt.Sprintf("--%s, %s (default ", s, envName(s))
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	if n := strings.Count(help, "\n  --"); n != len(allSettings) {
		t.Errorf("--help lists %d settings, the test knows %d: update allSettings", n, len(allSettings))
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := parseConfig(nil, envFunc(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != modeDemo || c.Host != "127.0.0.1" || !c.Introspection || c.CacheTTL != 30*time.Second ||
		c.CacheMaxBytes != 64<<20 || c.MaxBodyBytes != 1<<20 || c.ComplexityLimit != 20000 || c.DepthLimit != 12 ||
		c.ParserTokenLimit != 15000 {
		t.Errorf("defaults: %+v", c)
	}
	if !c.MirrorTemp || c.Mirror != "" || c.MirrorSince != 365*24*time.Hour || !c.MirrorSinceDate.IsZero() ||
		c.MirrorLookback != 24*time.Hour || c.MirrorReconcileInterval != 10*time.Minute ||
		c.MirrorFullReconcile != 7*24*time.Hour || c.MirrorLeaseTTL != 15*time.Second {
		t.Errorf("mirror defaults in demo mode: %+v", c)
	}
	c, err = parseConfig(nil, envFunc(map[string]string{"MIRROR": "sqlite:/var/lib/m.db", "MIRROR_SINCE": "2025-01-31", "MIRROR_LOOKBACK": "2d"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MirrorTemp || c.Mirror != "sqlite:/var/lib/m.db" || c.MirrorSince != 0 ||
		!c.MirrorSinceDate.Equal(time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)) || c.MirrorLookback != 48*time.Hour {
		t.Errorf("mirror settings: %+v", c)
	}
	if c, err = parseConfig(nil, envFunc(map[string]string{"MIRROR": "OFF"}), io.Discard); err != nil || c.MirrorTemp || c.Mirror != "" {
		t.Errorf("MIRROR=OFF in demo mode: %v, %+v", err, c)
	}

	// The flag wins over the environment, and both share a name.
	c, err = parseConfig([]string{"--cache-ttl=5s", "--allow-unauthenticated"},
		envFunc(map[string]string{"CACHE_TTL": "1m", "LEMLIST_API_KEY": keyDefault}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.CacheTTL != 5*time.Second || c.Mode != modeServer || c.Host != "0.0.0.0" || !c.AllowUnauthenticated || c.Introspection {
		t.Errorf("server mode: %+v", c)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	if err := os.WriteFile(file, []byte("# clients\n"+tokenOne+"\n\n  "+tokenTwo+"  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = parseConfig(nil, envFunc(map[string]string{
		"LEMLIST_API_KEY": keyDefault, "GRAPHQL_TOKENS": "extra-token", "GRAPHQL_TOKENS_FILE": file,
		"CORS_ORIGINS": "https://App.example.com, http://localhost:3000", "AUTH_MODE": "server", "CACHE_MAX_BYTES": "512KiB",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Mirror != "" || c.MirrorTemp {
		t.Errorf("the mirror is on by default with a key: %q, temporary %v", c.Mirror, c.MirrorTemp)
	}
	if got := strings.Join(c.Tokens, " "); got != "extra-token "+tokenOne+" "+tokenTwo {
		t.Errorf("tokens = %q", got)
	}
	if got := strings.Join(c.CORSOrigins, " "); got != "https://app.example.com http://localhost:3000" {
		t.Errorf("origins = %q", got)
	}
	if c.CacheMaxBytes != 512<<10 {
		t.Errorf("cache max bytes = %d", c.CacheMaxBytes)
	}
}

// TestConfigInvalid checks that each invalid setting makes run fail before
// listening, with a *configError (exit status 2) naming the setting, and
// that secret values are never quoted.
func TestConfigInvalid(t *testing.T) {
	t.Parallel()
	key := map[string]string{"LEMLIST_API_KEY": keyDefault}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		setting string
	}{
		{"port out of range", nil, with(nil, "PORT", "99999"), "PORT"},
		{"port not a number", nil, with(nil, "PORT", "http"), "PORT"},
		{"port flag", []string{"--port", "-1"}, nil, "PORT"},
		{"duration", nil, with(nil, "REQUEST_TIMEOUT", "15"), "REQUEST_TIMEOUT"},
		{"negative duration", nil, with(nil, "CACHE_TTL", "-1s"), "CACHE_TTL"},
		{"zero request timeout", nil, with(nil, "REQUEST_TIMEOUT", "0s"), "REQUEST_TIMEOUT"},
		{"write timeout too short", nil, with(nil, "WRITE_TIMEOUT", "10s"), "WRITE_TIMEOUT"},
		{"unknown mode", nil, with(nil, "AUTH_MODE", "oauth"), "AUTH_MODE"},
		{"server mode without key", nil, with(nil, "AUTH_MODE", "server"), "AUTH_MODE"},
		{"passthrough with key", nil, with(key, "AUTH_MODE", "passthrough"), "AUTH_MODE"},
		{"demo with key", nil, with(key, "AUTH_MODE", "demo"), "AUTH_MODE"},
		{"base URL alone", nil, with(nil, "LEMLIST_BASE_URL", "http://127.0.0.1:9/api"), "AUTH_MODE"},
		{"bad base URL", nil, with(key, "LEMLIST_BASE_URL", "ftp://x"), "LEMLIST_BASE_URL"},
		{"size", nil, with(nil, "CACHE_MAX_BYTES", "lots"), "CACHE_MAX_BYTES"},
		{"introspection", nil, with(nil, "INTROSPECTION", "sometimes"), "INTROSPECTION"},
		{"cors origin", nil, with(nil, "CORS_ORIGINS", "app.example.com"), "CORS_ORIGINS"},
		{"cors wildcard mixed", nil, with(nil, "CORS_ORIGINS", "*,https://a.example"), "CORS_ORIGINS"},
		{"bool", nil, with(nil, "ALLOW_UNAUTHENTICATED", "yes please"), "ALLOW_UNAUTHENTICATED"},
		{"log level", nil, with(nil, "LOG_LEVEL", "verbose"), "LOG_LEVEL"},
		{"metrics addr", nil, with(nil, "METRICS_ADDR", "9090"), "METRICS_ADDR"},
		{"metrics token too short", nil, with(nil, "METRICS_TOKEN", "short"), "METRICS_TOKEN"},
		{"metrics token with a space", nil, with(nil, "METRICS_TOKEN", tokenOne+" x"), "METRICS_TOKEN"},
		{"allowed host with scheme", nil, with(nil, "ALLOWED_HOSTS", "http://app.internal"), "ALLOWED_HOSTS"},
		{"allowed host with port", nil, with(nil, "ALLOWED_HOSTS", "app.internal:8080"), "ALLOWED_HOSTS"},
		{"allowed hosts wildcard mixed", nil, with(nil, "ALLOWED_HOSTS", "*,app.internal"), "ALLOWED_HOSTS"},
		{"key beyond loopback without tokens", nil, with(key, "HOST", "0.0.0.0"), "GRAPHQL_TOKENS"},
		{"key on default host without tokens", nil, key, "GRAPHQL_TOKENS"},
		{"token with a space", nil, with(key, "GRAPHQL_TOKENS", tokenOne+" x"), "GRAPHQL_TOKENS"},
		{"tokens in passthrough", nil, with(nil, "AUTH_MODE", "passthrough", "GRAPHQL_TOKENS", tokenOne), "GRAPHQL_TOKENS"},
		{"tokens file missing", nil, with(key, "GRAPHQL_TOKENS_FILE", "/nonexistent/tokens"), "GRAPHQL_TOKENS_FILE"},
		{"public URL without scheme", nil, with(nil, "PUBLIC_URL", "gql.example.com"), "PUBLIC_URL"},
		{"public URL over http", nil, with(nil, "PUBLIC_URL", "http://gql.example.com"), "PUBLIC_URL"},
		{"public URL with a query", nil, with(nil, "PUBLIC_URL", "https://gql.example.com/?a=1"), "PUBLIC_URL"},
		{"public URL with credentials", nil, with(nil, "PUBLIC_URL", "https://u:p@gql.example.com"), "PUBLIC_URL"},
		{"public URL with a fragment", nil, with(nil, "PUBLIC_URL", "https://gql.example.com/#x"), "PUBLIC_URL"},
		{"redis URL scheme", nil, with(nil, "REDIS_URL", "http://:"+tokenOne+"@redis:6379"), "REDIS_URL"},
		{"redis URL without host", nil, with(nil, "REDIS_URL", "redis://"), "REDIS_URL"},
		{"redis fallback replicas", nil, with(nil, "REDIS_FALLBACK_REPLICAS", "0"), "REDIS_FALLBACK_REPLICAS"},
		{"unknown flag", []string{"--colour"}, nil, "colour"},
		{"mirror kind", nil, with(nil, "MIRROR", "mysql://"+tokenOne+"@db/x"), "MIRROR"},
		{"mirror sqlite without a file", nil, with(nil, "MIRROR", "sqlite:"), "MIRROR"},
		{"mirror sqlite unwritable", nil, with(nil, "MIRROR", "sqlite:/nonexistent-dir/mirror.db"), "MIRROR"},
		{"mirror sqlite on a directory", nil, with(nil, "MIRROR", "sqlite:/"), "MIRROR"},
		{"mirror postgres unreachable", nil, with(nil, "MIRROR", "postgres://lemlist:"+tokenOne+"@127.0.0.1:1/mirror"), "MIRROR"},
		{"mirror postgres without host", nil, with(nil, "MIRROR", "postgresql://"), "MIRROR"},
		{"mirror since", nil, with(nil, "MIRROR_SINCE", "banana"), "MIRROR_SINCE"},
		{"mirror since in the future", nil, with(nil, "MIRROR_SINCE", "2999-01-01"), "MIRROR_SINCE"},
		{"mirror since zero", nil, with(nil, "MIRROR_SINCE", "0d"), "MIRROR_SINCE"},
		{"mirror lookback", nil, with(nil, "MIRROR_LOOKBACK", "0s"), "MIRROR_LOOKBACK"},
		{"mirror reconcile interval", nil, with(nil, "MIRROR_RECONCILE_INTERVAL", "often"), "MIRROR_RECONCILE_INTERVAL"},
		{"mirror full reconcile interval", nil, with(nil, "MIRROR_FULL_RECONCILE_INTERVAL", "-7d"), "MIRROR_FULL_RECONCILE_INTERVAL"},
		{"mirror lease ttl", nil, with(nil, "MIRROR_LEASE_TTL", "15"), "MIRROR_LEASE_TTL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			var out bytes.Buffer
			err := run(ctx, tc.args, envFunc(tc.env), &out)
			var cerr *configError
			if !errors.As(err, &cerr) {
				t.Fatalf("run = %v, want a *configError", err)
			}
			if exitCode(err) != 2 {
				t.Errorf("exit code %d, want 2", exitCode(err))
			}
			if !strings.Contains(err.Error(), tc.setting) {
				t.Errorf("error %q does not name %s", err, tc.setting)
			}
			for _, secret := range []string{keyDefault, tokenOne} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q quotes a secret", err)
				}
			}
			if strings.Contains(out.String(), "listening") {
				t.Errorf("the server started: %s", out.String())
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{flag.ErrHelp, 0},
		{&configError{"invalid PORT"}, 2},
		{fmt.Errorf("wrapped: %w", &configError{"x"}), 2},
		{errors.New("listen: address in use"), 1},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestMainExitStatus runs main in a child process (this test binary, with
// LEMLIST_GRAPHQL_MAIN set) and checks its exit status and message.
func TestMainExitStatus(t *testing.T) {
	if os.Getenv("LEMLIST_GRAPHQL_MAIN") == "1" {
		os.Args = []string{"lemlist-graphql"}
		main()
		return
	}
	t.Parallel()
	for _, tc := range []struct {
		env      []string
		want     int
		inStderr string
	}{
		{[]string{"PORT=99999"}, 2, "invalid PORT"},
		{[]string{"AUTH_MODE=magic"}, 2, "invalid AUTH_MODE"},
		{[]string{"SHUTDOWN_GRACE=soon"}, 2, "invalid SHUTDOWN_GRACE"},
		{[]string{"MIRROR_SINCE=banana"}, 2, "invalid MIRROR_SINCE"},
		{[]string{"MIRROR=sqlite:/nonexistent-dir/mirror.db"}, 2, "invalid MIRROR"},
	} {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestMainExitStatus$")
		cmd.Env = append(os.Environ(), append(tc.env, "LEMLIST_GRAPHQL_MAIN=1")...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != tc.want {
			t.Errorf("%v: %v, want exit status %d", tc.env, err, tc.want)
		}
		if !strings.Contains(stderr.String(), tc.inStderr) {
			t.Errorf("%v: stderr %q lacks %q", tc.env, stderr.String(), tc.inStderr)
		}
	}
}

// TestTrustedDocumentsSetting checks that a manifest that cannot be read,
// or whose operations do not validate against the schema, stops the
// server with status 2 naming TRUSTED_DOCUMENTS, and that a valid one
// lets only its operations run.
func TestTrustedDocumentsSetting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.json")
	if err := os.WriteFile(stale, []byte(`{"q1": "{ noSuchField }"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.json"), stale} {
		cfg, err := parseConfig(nil, envFunc(map[string]string{"TRUSTED_DOCUMENTS": path}), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		_, err = newApp(cfg, slog.New(slog.DiscardHandler))
		if exitCode(err) != 2 || !strings.Contains(err.Error(), "TRUSTED_DOCUMENTS") {
			t.Errorf("%s: %v (exit %d), want exit 2 naming TRUSTED_DOCUMENTS", filepath.Base(path), err, exitCode(err))
		}
	}

	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(`{"typename": "{ __typename }"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startApp(t, map[string]string{"TRUSTED_DOCUMENTS": good})
	for _, tc := range []struct {
		body       map[string]any
		data, code string
	}{
		{map[string]any{"query": "{ __typename }"}, `{"__typename":"Query"}`, ""},
		{map[string]any{"doc_id": "typename"}, `{"__typename":"Query"}`, ""},
		{map[string]any{"query": "{ activities(first: 1) { nodes { id } } }"}, "", "PERSISTED_QUERY_NOT_ALLOWED"},
		{map[string]any{"doc_id": "nope"}, "", "PERSISTED_QUERY_NOT_FOUND"},
	} {
		r := h.post(t, tc.body)
		if string(r.Data) != tc.data && !(tc.data == "" && len(r.Data) == 0) || r.code() != tc.code {
			t.Errorf("%v: data %s, code %q; want data %s, code %q", tc.body, r.Data, r.code(), tc.data, tc.code)
		}
	}
}
