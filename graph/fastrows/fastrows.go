// Package fastrows is an optional gqlgen extension that writes the rows
// of activity connections (ActivityConnection.edges and .nodes) itself,
// for the same JSON, byte for byte, as gqlgen's executor. It is only an
// optimization: the server works identically without it (FAST_ROWS=false
// leaves every field to gqlgen), and package graph does not know it
// exists.
//
// Why: gqlgen's executor spends most of a page's CPU on the rows: for
// every row a goroutine, and for every field a FieldContext, a context,
// closures and a boxed result (docs/benchmarks.md, round 4).
//
// How: Extension is a field interceptor. It lets the list resolve as
// usual, then, when it can answer the whole selection, returns a
// graphql.Marshaler with the list's JSON, which gqlgen writes in place of
// its own marshaling (graphql.ResolveField accepts a Marshaler from the
// middleware chain). TestFastRowsMatchesGqlgen and
// TestFastRowsRandomQueries compare the two.
//
// What it writes: only what is plain data: scalar and enum fields,
// objects reached through model methods without arguments or context,
// __typename, fragments, aliases, @skip and @include, all collected by
// gqlgen's own graphql.CollectFields. Whether a selection can be written
// is decided once per list and object type, before writing (a plan): a
// selection with anything else (a field with arguments, a resolver field
// such as Lead.activities, @defer, an unknown scalar, a Go type that is
// not the field's scalar) is left to gqlgen. What only the data can tell
// (a nil where the schema says non-null, an error from a nested lookup)
// also leaves the list to gqlgen, which then reports it as it always has.
// Nested lookups were already batched by graph's prefetch, so rows
// written one after the other make no more upstream calls than gqlgen's
// goroutines.
//
// Members are read through the accessors internal/rowsgen generates for
// the model types (accessors_gen.go), else through reflection; which
// member answers which GraphQL field is decided here, at run time, by the
// rules gqlgen binds with: a method without arguments, else a struct
// field, by name regardless of case.
//
// Files: fastrows.go (the extension), writer.go (plans and the JSON
// writer), accessor.go (binding GraphQL fields to Go members) and the
// generated accessors_gen.go.
package fastrows

//go:generate go run ./internal/rowsgen

import (
	"context"
	"io"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lemlist-graphql/server/graph"
)

// Extension is the gqlgen extension; see the package comment. Add it to a
// gqlgen server with Use.
type Extension struct {
	schema *ast.Schema
	// resolverFields are "type.field" pairs answered by resolvers, in
	// lower case.
	resolverFields map[string]bool
	accessors      sync.Map // accessorKey -> *accessor (nil when none)

	written, declined atomic.Uint64
}

var _ interface {
	graphql.HandlerExtension
	graphql.FieldInterceptor
} = (*Extension)(nil)

// New returns the extension for graph's schema. One can serve any number
// of servers.
func New() *Extension {
	return &Extension{
		schema:         graph.NewExecutableSchema(graph.Config{}).Schema(),
		resolverFields: resolverFields(),
	}
}

// ExtensionName names the extension for gqlgen.
func (*Extension) ExtensionName() string { return "FastRows" }

// Validate accepts any schema.
func (*Extension) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptField writes the rows of ActivityConnection.edges and .nodes.
func (x *Extension) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Object != "ActivityConnection" || fc.Field.Name != "edges" && fc.Field.Name != "nodes" {
		return next(ctx)
	}
	res, err := next(ctx)
	if err != nil || res == nil || fc.Field.Definition == nil {
		return res, err
	}
	w := rowWriter{x: x, oc: graphql.GetOperationContext(ctx)}
	rv := reflect.ValueOf(res)
	if rv.Kind() == reflect.Slice {
		w.buf.Grow(rv.Len() * 512) // about a row's size: one allocation, not a doubling series
	}
	if !w.value(rv, fc.Field.Definition.Type, fc.Field.Selections, plans{}) {
		x.declined.Add(1)
		return res, nil // gqlgen marshals it
	}
	x.written.Add(1)
	return rawJSON(w.buf.Bytes()), nil
}

// Stats returns how many lists the extension wrote, and how many it left
// to gqlgen.
func (x *Extension) Stats() (written, declined uint64) {
	return x.written.Load(), x.declined.Load()
}

// rawJSON is JSON written ahead of time.
type rawJSON []byte

// MarshalGQL writes the JSON.
func (r rawJSON) MarshalGQL(w io.Writer) { _, _ = w.Write(r) }
