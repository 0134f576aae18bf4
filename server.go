// Command lemlist-graphql serves a GraphQL API over lemlist's activities.
//
// With no configuration it runs a demo: an in-process fake of lemlist with a
// generated dataset. LEMLIST_API_KEY switches to the real API. Run with
// --help for every setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/graph/loaders"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/upstream"
	"github.com/lemlist-graphql/server/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	var cerr *configError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &cerr):
		fmt.Fprintln(os.Stderr, "lemlist-graphql:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "lemlist-graphql:", err)
		os.Exit(1)
	}
}

// run starts the server and blocks until ctx is done, then shuts down
// gracefully. Logs go to stdout as JSON lines.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseConfig(args, getenv, stdout)
	if err != nil {
		return err
	}
	logger := newLogger(stdout, cfg.LogLevel)
	app, err := newApp(cfg, logger)
	if err != nil {
		return err
	}
	defer app.Close()

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           app.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.RequestTimeout + 15*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	url := "http://" + ln.Addr().String() + "/"
	logger.Info("listening", "addr", ln.Addr().String(), "mode", app.mode, "graphiql", url, "endpoint", url+"graphql")
	if app.mode == "demo" {
		logger.Info("demo mode: serving a generated dataset from an in-process fake of lemlist; set LEMLIST_API_KEY for the real API",
			"activities", cfg.DemoSize)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", cfg.ShutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// app is the wired server: upstream, GraphQL handler and routes.
type app struct {
	cfg    *config
	logger *slog.Logger
	mode   string
	up     upstream.Upstream
	fake   *lemlisttest.Server
}

// newApp wires the upstream (the fake in demo mode) and the GraphQL handler.
func newApp(cfg *config, logger *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, logger: logger, mode: "server"}
	key, base := cfg.APIKey, cfg.BaseURL
	opts := []lemlist.Option{lemlist.WithRateLimit(cfg.RateLimit, 2*time.Second)}
	if cfg.demo() {
		a.mode = "demo"
		fakeLimit := 0 // lemlist's own budget
		if cfg.RateLimit == 0 {
			fakeLimit = lemlisttest.NoRateLimit
		}
		a.fake = lemlisttest.NewServer(lemlisttest.Options{
			RateLimit: fakeLimit,
			Dataset: lemlisttest.DatasetOptions{
				Seed: cfg.DemoSeed, Activities: cfg.DemoSize,
				Now: time.Now(), Span: 28 * 24 * time.Hour,
			},
		})
		key, base = lemlisttest.DefaultAPIKey, a.fake.URL
	}
	if base != "" {
		opts = append(opts, lemlist.WithBaseURL(base))
	}
	c, err := lemlist.NewClient(key, opts...)
	if err != nil {
		return nil, &configError{err.Error()}
	}
	a.up = upstream.Client(c)
	return a, nil
}

// Close releases the demo upstream.
func (a *app) Close() {
	if a.fake != nil {
		a.fake.Close()
	}
}

// Handler returns the routes: /graphql, GraphiQL at /, /healthz, /readyz.
func (a *app) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/graphql", a.graphqlHandler())
	mux.Handle("GET /{$}", web.Handler("lemlist GraphQL", "/graphql"))
	mux.Handle("GET "+web.AssetsPath, web.Assets())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ready\n")
	})
	return mux
}

// graphqlHandler is gqlgen's server with explicit transports and
// extensions, behind the per-request loaders and deadline.
func (a *app) graphqlHandler() http.Handler {
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{MaxPageSize: a.cfg.MaxPageSize}})
	srv := handler.New(es)
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.SetErrorPresenter(graph.ErrorPresenter(a.logger))
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		a.logger.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(v))
		return gqlerror.Errorf("internal error")
	})
	var h http.Handler = srv
	h = loaders.Middleware(func(*http.Request) upstream.Upstream { return a.up }, loaders.Options{}, h)
	return withDeadline(a.cfg.RequestTimeout, h)
}

// withDeadline bounds each request, upstream calls included.
func withDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
