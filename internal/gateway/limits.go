package gateway

import (
	"context"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/lemlist"
)

// Error codes of operations refused for their shape.
const (
	codeDepthLimit      = "DEPTH_LIMIT_EXCEEDED"
	codeComplexityLimit = "COMPLEXITY_LIMIT_EXCEEDED" // gqlgen's own
)

// complexityRoot prices the connections: a connection costs its page size
// (first, or last, or the default) times its selection's cost, since each
// row resolves that selection. The page size is clamped to 0..maxPage
// rather than rejected, so that a first above the cap still fails as
// BAD_USER_INPUT from the resolver, not as a complexity error.
func complexityRoot(maxPage int) graph.ComplexityRoot {
	var c graph.ComplexityRoot
	c.Query.Activities = connectionCost(maxPage)
	c.Lead.Activities = connectionCost(maxPage)
	c.Campaign.Activities = connectionCost(maxPage)
	c.Contact.Activities = connectionCost(maxPage)
	// A stats query may scan up to maxUpstreamCalls pages of 100 rows.
	c.Query.ActivityStats = func(child int, _ *model.ActivityFilter, _ []model.StatsGroup, _ *string, calls *int) int {
		n := graph.DefaultStatsCalls
		if calls != nil {
			n = min(max(*calls, 1), graph.MaxStatsCalls)
		}
		return 1 + n*lemlist.MaxPageSize/10 + child
	}
	return c
}

func connectionCost(maxPage int) func(int, *int, *string, *int, *string, *model.ActivityFilter) int {
	return func(child int, first *int, _ *string, last *int, _ *string, _ *model.ActivityFilter) int {
		return 1 + pageSize(first, last, maxPage)*max(child, 1)
	}
}

// pageSize is the most rows a connection returns for first and last.
func pageSize(first, last *int, maxPage int) int {
	clamp := func(n int) int { return min(max(n, 0), maxPage) }
	switch {
	case first != nil && last != nil:
		return min(clamp(*first), clamp(*last))
	case first != nil:
		return clamp(*first)
	case last != nil:
		return clamp(*last)
	}
	return min(graph.DefaultPageSize, maxPage)
}

// shapeLimit rejects an operation whose fields nest deeper than maxDepth,
// or that selects more than maxFields fields once its fragments are
// expanded; 0 turns either check off. Introspection fields (which tools
// nest deeply, and which INTROSPECTION governs) are not counted, except
// __typename, which counts as a field of no depth.
//
// The field count guards gqlgen's complexity walker, which expands
// fragments afresh at every spread: fragments that each spread the next
// twice make it exponential (24 such fragments, some 300 tokens, cost it
// seconds of CPU). This walk memoizes each fragment, so it is linear, and
// runs first. It rejects nothing the complexity limit would let through as
// long as every connection asks for at least one row: each field then
// costs at least 1.
type shapeLimit struct{ maxDepth, maxFields int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = shapeLimit{}

// ExtensionName implements graphql.HandlerExtension.
func (shapeLimit) ExtensionName() string { return "ShapeLimit" }

// Validate implements graphql.HandlerExtension.
func (shapeLimit) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (l shapeLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	w := shapeWalker{frags: map[string]shape{}}
	sh := w.walk(oc.Operation.SelectionSet)
	if l.maxDepth > 0 && sh.depth > l.maxDepth {
		err := gqlerror.Errorf("operation has depth %d, which exceeds the limit of %d", sh.depth, l.maxDepth)
		errcode.Set(err, codeDepthLimit)
		return err
	}
	if l.maxFields > 0 && sh.fields > l.maxFields {
		err := gqlerror.Errorf("operation selects %s fields once its fragments are expanded, which exceeds the complexity limit of %d",
			countString(sh.fields), l.maxFields)
		errcode.Set(err, codeComplexityLimit)
		return err
	}
	return nil
}

// shape is a selection set's depth and expanded field count.
type shape struct{ depth, fields int }

// maxCount saturates field counts, which grow exponentially with nested
// fragments.
const maxCount = 1 << 40

func countString(n int) string {
	if n >= maxCount {
		return "more than " + strconv.Itoa(maxCount)
	}
	return strconv.Itoa(n)
}

// shapeWalker measures selection sets, computing each fragment's shape
// once; a fragment reached again while being computed counts as empty
// (cycles fail validation before this runs).
type shapeWalker struct{ frags map[string]shape }

func (w shapeWalker) walk(set ast.SelectionSet) shape {
	var out shape
	for _, sel := range set {
		var sh shape
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__typename" {
				// A leaf, but one gqlgen's complexity walker visits and
				// prices like any other field: uncounted, it would let a
				// fragment bomb ending in __typename through to that walk.
				sh.fields = 1
				break
			}
			if strings.HasPrefix(s.Name, "__") {
				continue
			}
			sh = w.walk(s.SelectionSet)
			sh.depth++
			sh.fields = min(sh.fields+1, maxCount)
		case *ast.InlineFragment:
			sh = w.walk(s.SelectionSet)
		case *ast.FragmentSpread:
			if s.Definition == nil {
				continue
			}
			var ok bool
			if sh, ok = w.frags[s.Name]; !ok {
				w.frags[s.Name] = shape{}
				sh = w.walk(s.Definition.SelectionSet)
				w.frags[s.Name] = sh
			}
		}
		out.depth = max(out.depth, sh.depth)
		out.fields = min(out.fields+sh.fields, maxCount)
	}
	return out
}
