package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// ServiceSDL is the gqlgen extension that lets federation gateways read
// `_service { sdl }` when introspection is off. gqlgen's federation plugin
// answers _service only when introspection is on (federation.go:
// "federated introspection disabled"), but gateways compose supergraphs
// from it, and introspection is off outside the demo.
//
// It turns introspection on for a query whose root fields are all
// `_service` or `__typename`, after @skip and @include and through
// fragments: such a query cannot reach __schema or __type, which are root
// fields. Every other operation keeps the server's setting. It sits behind
// the same authentication as every operation; use it with srv.Use.
type ServiceSDL struct{}

var _ interface {
	graphql.OperationContextMutator
	graphql.HandlerExtension
} = ServiceSDL{}

// ExtensionName names the extension.
func (ServiceSDL) ExtensionName() string { return "ServiceSDL" }

// Validate accepts any schema.
func (ServiceSDL) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext enables introspection for an operation that only
// reads _service.
func (ServiceSDL) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if !opCtx.DisableIntrospection || opCtx.Operation == nil || opCtx.Operation.Operation != ast.Query {
		return nil
	}
	service := false
	for _, f := range graphql.CollectFields(opCtx, opCtx.Operation.SelectionSet, []string{"Query"}) {
		switch f.Name {
		case "_service":
			service = true
		case "__typename":
		default:
			return nil
		}
	}
	if service {
		opCtx.DisableIntrospection = false
	}
	return nil
}
