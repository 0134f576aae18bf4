package tracing

import (
	"cmp"
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/lemlist-graphql/server/metrics"
)

// Extension returns the gqlgen extension of the operation spans, nil when
// tracing is off.
func (t *Tracing) Extension() graphql.HandlerExtension {
	if t == nil {
		return nil
	}
	return graphqlTracer{tracer: t.tp.Tracer(tracerName)}
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
		span.AddEvent("response", trace.WithAttributes(attribute.String("graphql.outcome", Outcome(resp))))
		setOutcome(span, resp)
		return resp
	}
}

// Outcome returns "ok", or the code of resp's first error ("ERROR"
// without one): the outcome of log lines, metrics and spans.
func Outcome(resp *graphql.Response) string {
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
	outcome := Outcome(resp)
	span.SetAttributes(attribute.String("graphql.outcome", outcome))
	if outcome != metrics.OutcomeOK {
		span.SetAttributes(semconv.ErrorTypeKey.String(outcome))
		span.SetStatus(codes.Error, outcome)
	}
}
