package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/lemlist-graphql/server/metrics"
)

// OpenTelemetry tracing, off unless the standard OTEL_* variables ask for
// it (see parseTracing). When on, the app has its own tracer provider,
// exporting over OTLP/HTTP, and three kinds of span:
//
//   - a server span per /graphql request (otelhttp), continuing the
//     caller's W3C traceparent;
//   - an operation span per GraphQL operation (graphqlTracer), named
//     "query Activities" and carrying the outcome, never the variables;
//   - a client span per HTTP attempt to lemlist (otelhttp), so that retries
//     are spans of their own, sending traceparent upstream. Its url.full
//     has no query string (ids and email addresses), and like every span
//     it never carries the Authorization header: the API key, in either
//     mode, and the client tokens stay out of spans.
//
// When off, nothing is installed: no handler or transport is wrapped and
// the global provider stays the no-op one.

const (
	defaultServiceName = "lemlist-graphql"
	// tracingFlushTimeout bounds the export of the last spans on Close.
	tracingFlushTimeout = 5 * time.Second
	// tracerName names the instrumentation scope of the operation spans.
	tracerName = "github.com/lemlist-graphql/server"
)

// tracingConfig is the tracing part of the configuration.
//
// Only whether tracing is on and the service name come from run's getenv.
// The exporter (OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS, _TIMEOUT, …), the
// sampler (OTEL_TRACES_SAMPLER, _ARG), OTEL_RESOURCE_ATTRIBUTES and the
// span limits are read from the process environment by the OpenTelemetry
// SDK itself, which has no getenv hook: reimplementing its parsing would
// drift from the spec. In production getenv is os.Getenv, so both agree.
type tracingConfig struct {
	Enabled     bool
	ServiceName string // OTEL_SERVICE_NAME, or defaultServiceName

	// processor, when set (by tests), receives the spans instead of an
	// OTLP exporter.
	processor sdktrace.SpanProcessor
}

// parseTracing reads the OTEL_* variables that turn tracing on: it is on
// when OTEL_TRACES_EXPORTER is "otlp", or unset with an OTLP endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), and
// OTEL_SDK_DISABLED is not "true". OTEL_TRACES_EXPORTER=none turns it off;
// other exporters, and OTLP over gRPC, are configuration errors rather than
// silently lost spans.
func parseTracing(getenv func(string) string) (tracingConfig, error) {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := tracingConfig{ServiceName: env("OTEL_SERVICE_NAME")}
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
		return c, &configError{fmt.Sprintf("invalid OTEL_TRACES_EXPORTER: %q is not otlp or none", exp)}
	}
	if !c.Enabled {
		return c, nil
	}
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := env(k); p != "" {
			if p != "http/protobuf" {
				return c, &configError{fmt.Sprintf("invalid %s: %q is not supported, only http/protobuf (port 4318)", k, p)}
			}
			break // the signal-specific one wins
		}
	}
	return c, nil
}

// tracing is the app's tracer provider; nil when tracing is off, and
// every method of a nil *tracing is a no-op.
type tracing struct {
	tp     *sdktrace.TracerProvider
	prop   propagation.TextMapPropagator
	logger *slog.Logger
}

// newTracing returns the tracing of c, or nil when it is off.
func newTracing(c tracingConfig, logger *slog.Logger) (*tracing, error) {
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
		return nil, &configError{fmt.Sprintf("invalid OTEL_RESOURCE_ATTRIBUTES or OTEL_SERVICE_NAME: %v", err)}
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if c.processor != nil {
		opts = append(opts, sdktrace.WithSpanProcessor(c.processor))
	} else {
		// Reads OTEL_EXPORTER_OTLP_*; connects on the first export.
		exp, err := otlptracehttp.New(context.Background())
		if err != nil {
			return nil, &configError{fmt.Sprintf("invalid OTLP exporter settings: %v", err)}
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	// Without WithSampler the SDK reads OTEL_TRACES_SAMPLER and _ARG; its
	// default is parentbased_always_on.
	return &tracing{
		tp:     sdktrace.NewTracerProvider(opts...),
		prop:   propagation.TraceContext{},
		logger: logger,
	}, nil
}

// setGlobal makes t the global tracer provider and propagator, for
// libraries that use them, and routes the SDK's errors (failed exports)
// to the log. run calls it; tests, which build several apps, do not.
func (t *tracing) setGlobal() {
	if t == nil {
		return
	}
	otel.SetTracerProvider(t.tp)
	otel.SetTextMapPropagator(t.prop)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		t.logger.Warn("tracing", "error", err.Error())
	}))
}

// shutdown flushes the spans not yet exported, within tracingFlushTimeout.
func (t *tracing) shutdown() {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
	defer cancel()
	if err := t.tp.Shutdown(ctx); err != nil {
		t.logger.Warn("tracing shutdown", "error", err.Error())
	}
}

// handler gives each request to next a server span, continuing the
// caller's trace from its traceparent header. otelhttp records the method,
// route, path (not the query, where GET requests carry their variables),
// status, peer and user agent; no request header.
func (t *tracing) handler(next http.Handler) http.Handler {
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

// transport gives each HTTP attempt through base a client span named after
// lemlist's route ("lemlist GET campaigns/{id}") and sends traceparent
// with it. The query is hidden from otelhttp, so url.full is the URL
// without it.
func (t *tracing) transport(base http.RoundTripper) http.RoundTripper {
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

// extension returns the gqlgen extension of the operation spans, nil when
// tracing is off.
func (t *tracing) extension() graphql.HandlerExtension {
	if t == nil {
		return nil
	}
	return graphqlTracer{tracer: t.tp.Tracer(tracerName)}
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

// graphqlTracer is a gqlgen extension giving each operation a span named
// after its type and name ("query Activities", "subscription"), with
// graphql.operation.type and .name, and graphql.outcome: "ok" or the first
// error's code, as in the request's log line. Neither the document nor
// the variables are recorded. A subscription's span lasts until its stream
// ends, with an event per response.
type graphqlTracer struct{ tracer trace.Tracer }

var (
	_ graphql.HandlerExtension     = graphqlTracer{}
	_ graphql.OperationInterceptor = graphqlTracer{}
)

// ExtensionName implements graphql.HandlerExtension.
func (graphqlTracer) ExtensionName() string { return "OpenTelemetry" }

// Validate implements graphql.HandlerExtension.
func (graphqlTracer) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation implements graphql.OperationInterceptor.
func (g graphqlTracer) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	typ, name := "", oc.OperationName
	if oc.Operation != nil {
		typ = string(oc.Operation.Operation)
		name = cmp.Or(name, oc.Operation.Name)
	}
	attrs := []attribute.KeyValue{semconv.GraphQLOperationTypeKey.String(typ)}
	spanName := typ
	if name != "" {
		attrs = append(attrs, semconv.GraphQLOperationName(name))
		spanName += " " + name
	}
	ctx, span := g.tracer.Start(ctx, spanName, trace.WithAttributes(attrs...))
	rh := next(ctx)
	if typ != string(ast.Subscription) {
		return func(ctx context.Context) *graphql.Response {
			resp := rh(ctx)
			setOutcome(span, resp)
			span.End()
			return resp
		}
	}
	// A stream stopped by its client may not be asked for its end.
	stop := context.AfterFunc(ctx, func() { span.End() })
	return func(ctx context.Context) *graphql.Response {
		resp := rh(ctx)
		if resp == nil {
			stop()
			span.End()
			return nil
		}
		span.AddEvent("response", trace.WithAttributes(attribute.String("graphql.outcome", outcomeOf(resp))))
		setOutcome(span, resp)
		return resp
	}
}

// outcomeOf returns "ok", or the code of resp's first error ("ERROR"
// without one): the outcome of log lines, metrics and spans.
func outcomeOf(resp *graphql.Response) string {
	if resp == nil || len(resp.Errors) == 0 {
		return metrics.OutcomeOK
	}
	if code, ok := resp.Errors[0].Extensions["code"].(string); ok {
		return code
	}
	return "ERROR"
}

// setOutcome records resp's outcome on span, as an error status when it
// has errors. Error messages stay out: the code says what failed.
func setOutcome(span trace.Span, resp *graphql.Response) {
	outcome := outcomeOf(resp)
	span.SetAttributes(attribute.String("graphql.outcome", outcome))
	if outcome != metrics.OutcomeOK {
		span.SetAttributes(semconv.ErrorTypeKey.String(outcome))
		span.SetStatus(codes.Error, outcome)
	}
}
