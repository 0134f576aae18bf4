// Package tracing is the server's OpenTelemetry tracing, off unless the
// standard OTEL_* variables ask for it (see ParseEnv). When on, the server
// has its own tracer provider, exporting over OTLP/HTTP, and three kinds of
// span:
//
//   - a server span per /graphql request (Handler, over otelhttp),
//     continuing the caller's W3C traceparent;
//   - an operation span per GraphQL operation (Extension), named
//     "query Activities" and carrying the outcome, never the variables;
//   - a client span per HTTP attempt to lemlist (Transport, over otelhttp),
//     so that retries are spans of their own, sending traceparent upstream.
//     Its url.full has no query string (ids and email addresses), and like
//     every span it never carries the Authorization header: the API key, in
//     either mode, and the client tokens stay out of spans.
//
// When off, New returns nil and nothing is installed: every method of a
// nil *Tracing hands back what it was given (no handler or transport is
// wrapped) and the global provider stays the no-op one.
//
// It imports OpenTelemetry, gqlgen's graphql package for the operation
// spans, and metrics for the name of the "ok" outcome; nothing of the
// server's own beside that.
package tracing

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

const (
	defaultServiceName = "lemlist-graphql"
	// flushTimeout bounds the export of the last spans on Shutdown.
	flushTimeout = 5 * time.Second
	// tracerName names the instrumentation scope of the operation spans.
	tracerName = "github.com/lemlist-graphql/server"
)

// Config is the tracing part of the server's configuration.
//
// Only whether tracing is on and the service name come from ParseEnv's
// getenv. The exporter (OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS, _TIMEOUT, …), the
// sampler (OTEL_TRACES_SAMPLER, _ARG), OTEL_RESOURCE_ATTRIBUTES and the
// span limits are read from the process environment by the OpenTelemetry
// SDK itself, which has no getenv hook: reimplementing its parsing would
// drift from the spec. In production getenv is os.Getenv, so both agree.
type Config struct {
	// Enabled turns tracing on.
	Enabled bool
	// ServiceName is OTEL_SERVICE_NAME, or "lemlist-graphql".
	ServiceName string

	// SpanProcessor, when set (by tests), receives the spans instead of
	// an OTLP exporter.
	SpanProcessor sdktrace.SpanProcessor
}

// ParseEnv reads the OTEL_* variables that turn tracing on: it is on
// when OTEL_TRACES_EXPORTER is "otlp", or unset with an OTLP endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), and
// OTEL_SDK_DISABLED is not "true". OTEL_TRACES_EXPORTER=none turns it off;
// other exporters, and OTLP over gRPC, are configuration errors rather than
// silently lost spans; their messages name the variable at fault.
func ParseEnv(getenv func(string) string) (Config, error) {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := Config{ServiceName: env("OTEL_SERVICE_NAME")}
	if c.ServiceName == "" {
		c.ServiceName = defaultServiceName
	}
	if strings.EqualFold(env("OTEL_SDK_DISABLED"), "true") {
		return c, nil
	}
	switch exp := strings.ToLower(env("OTEL_TRACES_EXPORTER")); exp {
	case "none":
		return c, nil
	case "otlp":
		c.Enabled = true
	case "":
		c.Enabled = env("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	default:
		return c, fmt.Errorf("invalid OTEL_TRACES_EXPORTER: %q is not otlp or none", exp)
	}
	if !c.Enabled {
		return c, nil
	}
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := env(k); p != "" {
			if p != "http/protobuf" {
				return c, fmt.Errorf("invalid %s: %q is not supported, only http/protobuf (port 4318)", k, p)
			}
			break // the signal-specific one wins
		}
	}
	return c, nil
}

// Tracing is the server's tracer provider; nil when tracing is off, and
// every method of a nil *Tracing is a no-op.
type Tracing struct {
	tp     *sdktrace.TracerProvider
	prop   propagation.TextMapPropagator
	logger *slog.Logger
}

// New returns the tracing of c, or nil when it is off. Its errors are
// invalid settings: OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME or the
// OTLP exporter's.
func New(c Config, logger *slog.Logger) (*Tracing, error) {
	if !c.Enabled {
		return nil, nil
	}
	// Later detectors win: OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME
	// over the default name, and getenv's OTEL_SERVICE_NAME last.
	res, err := resource.New(context.Background(),
		resource.WithAttributes(semconv.ServiceName(defaultServiceName)),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(c.ServiceName)),
	)
	if err != nil {
		return nil, fmt.Errorf("invalid OTEL_RESOURCE_ATTRIBUTES or OTEL_SERVICE_NAME: %v", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if c.SpanProcessor != nil {
		opts = append(opts, sdktrace.WithSpanProcessor(c.SpanProcessor))
	} else {
		// Reads OTEL_EXPORTER_OTLP_*; connects on the first export.
		exp, err := otlptracehttp.New(context.Background())
		if err != nil {
			return nil, fmt.Errorf("invalid OTLP exporter settings: %v", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	// Without WithSampler the SDK reads OTEL_TRACES_SAMPLER and _ARG; its
	// default is parentbased_always_on.
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Tracing{
		tp:     sdktrace.NewTracerProvider(opts...),
		prop:   propagation.TraceContext{},
		logger: logger,
	}, nil
}

// SetGlobal makes t the global tracer provider and propagator, for
// libraries that use them, and routes the SDK's errors (failed exports)
// to the log. The server calls it; tests, which build several, do not.
func (t *Tracing) SetGlobal() {
	if t == nil {
		return
	}
	otel.SetTracerProvider(t.tp)
	otel.SetTextMapPropagator(t.prop)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		t.logger.Warn("tracing", "error", err.Error())
	}))
}

// Shutdown flushes the spans not yet exported, within flushTimeout.
func (t *Tracing) Shutdown() {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if err := t.tp.Shutdown(ctx); err != nil {
		t.logger.Warn("tracing shutdown", "error", err.Error())
	}
}

// Handler gives each request to next a server span, continuing the
// caller's trace from its traceparent header. otelhttp records the method,
// route, path (not the query, where GET requests carry their variables),
// status, peer and user agent; no request header.
func (t *Tracing) Handler(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return otelhttp.NewHandler(next, "graphql",
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(t.prop),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), // Prometheus has the metrics
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			route := cmp.Or(r.Pattern, r.URL.Path)
			if !strings.HasPrefix(route, "/") {
				return route // the pattern names the method: "POST /graphql"
			}
			return r.Method + " " + route
		}),
	)
}

// Transport gives each HTTP attempt through base a client span named after
// lemlist's route ("lemlist GET campaigns/{id}") and sends traceparent
// with it. The query is hidden from otelhttp, so url.full is the URL
// without it.
func (t *Tracing) Transport(base http.RoundTripper) http.RoundTripper {
	if t == nil {
		return base
	}
	return hideQuery{otelhttp.NewTransport(restoreQuery{base},
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(t.prop),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return "lemlist " + r.Method + " " + upstreamRoute(r.URL.Path)
		}),
	)}
}

// upstreamRoute turns a lemlist path into its route template, as the
// client names it: ".../api/campaigns/cam_1" is "campaigns/{id}",
// ".../api/activities" is "activities".
func upstreamRoute(p string) string {
	dir, last := path.Split(strings.TrimSuffix(p, "/"))
	switch parent := path.Base(dir); parent {
	case "campaigns", "hooks":
		return parent + "/{id}"
	}
	return last
}

type hiddenQueryKey struct{}

// hideQuery moves the query of a request out of its URL, into its context,
// for restoreQuery to put it back.
type hideQuery struct{ next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (h hideQuery) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.RawQuery == "" {
		return h.next.RoundTrip(r)
	}
	r = r.Clone(context.WithValue(r.Context(), hiddenQueryKey{}, r.URL.RawQuery))
	r.URL.RawQuery = ""
	return h.next.RoundTrip(r)
}

// restoreQuery puts back the query hideQuery moved, and names the route in
// the client span.
type restoreQuery struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (rq restoreQuery) RoundTrip(r *http.Request) (*http.Response, error) {
	trace.SpanFromContext(r.Context()).SetAttributes(semconv.URLTemplate(upstreamRoute(r.URL.Path)))
	if q, ok := r.Context().Value(hiddenQueryKey{}).(string); ok {
		r = r.Clone(r.Context())
		r.URL.RawQuery = q
	}
	return rq.base.RoundTrip(r)
}
