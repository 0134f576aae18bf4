package gateway

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// codeBreadthLimit is the code of a document refused by breadthLimit.
const codeBreadthLimit = "BREADTH_LIMIT_EXCEEDED"

// The bounds of breadthLimit. No query a client writes or generates comes
// near them: a response name appears a few times in one selection set
// (a field beside the same field in inline fragments), and a selection
// set spreads a few dozen fragments.
const (
	// maxSameName bounds the fields of one selection set, inline
	// fragments included, that share a response name.
	maxSameName = 100
	// maxRepeats bounds the fields of the whole document that repeat a
	// response name of their selection set: with maxSameName, it keeps the
	// comparisons of same-named fields' selections in check too.
	maxRepeats = 1000
	// maxSpreads bounds the fragment spreads of one selection set.
	maxSpreads = 100
)

// breadthLimit refuses, before gqlgen validates it, a document whose
// validation would cost far more than its size: gqlparser's
// OverlappingFieldsCanBeMerged compares every pair of fields sharing a
// response name in a selection set (and their selections, pair by pair)
// and every pair of fragment spreads, so 4,900 aliases `a: __typename`
// (under the parser's token limit) cost it over a second of CPU, and 2,000
// spreads of one fragment nearly as much. It parses the document once
// more, only when the parsed-query cache does not hold it, which is linear
// and cheap beside validation; a document that does not parse is left to
// gqlgen, which reports the error.
type breadthLimit struct {
	docs       *sizedCache[*ast.QueryDocument]
	tokenLimit int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = breadthLimit{}

// ExtensionName implements graphql.HandlerExtension.
func (breadthLimit) ExtensionName() string { return "BreadthLimit" }

// Validate implements graphql.HandlerExtension.
func (breadthLimit) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (l breadthLimit) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	if raw.Query == "" {
		return nil
	}
	if l.docs != nil {
		if _, ok := l.docs.Get(ctx, raw.Query); ok {
			return nil // it validated once
		}
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: raw.Query}, l.tokenLimit)
	if err != nil {
		return nil
	}
	var w breadthWalker
	for _, op := range doc.Operations {
		w.set(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		w.set(f.SelectionSet)
	}
	if w.err != nil {
		errcode.Set(w.err, codeBreadthLimit)
	}
	return w.err
}

// breadthWalker checks each selection set of a document once, as the
// overlapping-fields rule visits them: an operation's, a fragment's, a
// field's and an inline fragment's, each with its inline fragments'
// fields counted in.
type breadthWalker struct {
	repeats int
	err     *gqlerror.Error
}

// set checks set and the selection sets within it, and stops at the first
// error.
func (w *breadthWalker) set(set ast.SelectionSet) {
	if w.err != nil || len(set) == 0 {
		return
	}
	names := map[string]int{}
	spreads := 0
	w.flatten(set, names, &spreads)
	if w.err != nil {
		return
	}
	if spreads > maxSpreads {
		w.err = gqlerror.ErrorPosf(set[0].GetPosition(), "a selection set spreads %d fragments; at most %d may be spread in one", spreads, maxSpreads)
		return
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			w.set(s.SelectionSet)
		case *ast.InlineFragment:
			w.set(s.SelectionSet)
		}
	}
}

// flatten counts the fields of set by response name, and its fragment
// spreads, inline fragments included.
func (w *breadthWalker) flatten(set ast.SelectionSet, names map[string]int, spreads *int) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			name := s.Alias // the parser sets it to Name without an alias
			names[name]++
			if n := names[name]; n > 1 {
				w.repeats++
				switch {
				case n > maxSameName:
					w.err = gqlerror.ErrorPosf(s.Position, "a selection set has more than %d fields named %q; at most %d fields of one selection set may share a response name", maxSameName, name, maxSameName)
				case w.repeats > maxRepeats:
					w.err = gqlerror.ErrorPosf(s.Position, "the document repeats a response name in its selection sets more than %d times", maxRepeats)
				}
				if w.err != nil {
					return
				}
			}
		case *ast.InlineFragment:
			w.flatten(s.SelectionSet, names, spreads)
		case *ast.FragmentSpread:
			*spreads++
		}
	}
}
