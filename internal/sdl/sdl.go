// Package sdl is the server's schema as an artifact for frontends: Public
// prints the schema clients query in a stable form (the committed
// snapshot, docs/schema.graphql, and GET /graphql/schema.graphql, which
// Handler serves), and Breaking lists what a new schema breaks for clients
// of an old one.
//
// The public schema leaves out the Apollo Federation plumbing that only
// gateways use: the _service and _entities fields, their types, and the
// federation directives (@link, @key, @shareable…). Gateways read the
// subgraph schema, with those, from `_service { sdl }`.
package sdl

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
)

// specDirectives are the directives of the GraphQL specification that
// schemas use on their definitions; their uses are part of the public
// schema although their definitions are built in.
var specDirectives = map[string]bool{"deprecated": true, "specifiedBy": true, "oneOf": true}

// Public returns s as SDL for clients: types sorted by name, fields,
// arguments and values in schema order, descriptions kept, built-in
// definitions and federation plumbing left out. The same schema always
// prints the same text.
func Public(s *ast.Schema) string {
	pub := &ast.Schema{
		Query:        s.Query,
		Mutation:     s.Mutation,
		Subscription: s.Subscription,
		Types:        make(map[string]*ast.Definition, len(s.Types)),
		Directives:   make(map[string]*ast.DirectiveDefinition),
	}
	keep := func(ds ast.DirectiveList) ast.DirectiveList {
		var out ast.DirectiveList
		for _, d := range ds {
			def := s.Directives[d.Name]
			if specDirectives[d.Name] || def == nil || !builtIn(def.Position) {
				out = append(out, d)
			}
		}
		return out
	}
	for name, def := range s.Types {
		if def.BuiltIn {
			continue
		}
		c := *def
		c.Directives = keep(def.Directives)
		c.Fields = make(ast.FieldList, 0, len(def.Fields))
		for _, f := range def.Fields {
			if builtIn(f.Position) {
				continue // _service, _entities
			}
			fc := *f
			fc.Directives = keep(f.Directives)
			fc.Arguments = make(ast.ArgumentDefinitionList, len(f.Arguments))
			for i, a := range f.Arguments {
				ac := *a
				ac.Directives = keep(a.Directives)
				fc.Arguments[i] = &ac
			}
			c.Fields = append(c.Fields, &fc)
		}
		c.EnumValues = make(ast.EnumValueList, len(def.EnumValues))
		for i, v := range def.EnumValues {
			vc := *v
			vc.Directives = keep(v.Directives)
			c.EnumValues[i] = &vc
		}
		pub.Types[name] = &c
	}
	for name, d := range s.Directives {
		if !builtIn(d.Position) {
			pub.Directives[name] = d
		}
	}
	var b strings.Builder
	formatter.NewFormatter(&b, formatter.WithIndent("  ")).FormatSchema(pub)
	return spaced(b.String())
}

// spaced puts a blank line after each top-level definition of the
// formatter's output, which has none: those end with a "}" line, or are a
// one-line scalar, union or directive.
func spaced(text string) string {
	var b strings.Builder
	b.Grow(len(text) + len(text)/20)
	for line := range strings.Lines(text) {
		b.WriteString(line)
		l := strings.TrimSuffix(line, "\n")
		if l == "}" || strings.HasPrefix(l, "scalar ") || strings.HasPrefix(l, "union ") || strings.HasPrefix(l, "directive @") && strings.Contains(l, " on ") {
			b.WriteString("\n")
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func builtIn(p *ast.Position) bool { return p != nil && p.Src != nil && p.Src.BuiltIn }

// Handler serves Public(s), for GET /graphql/schema.graphql: codegen tools
// (relay-compiler, graphql-codegen, Apollo's) read the schema from it
// without introspection. It answers HEAD, If-None-Match (with an ETag of
// the text) and ranges as http.ServeContent does. Put it behind the same
// authentication as the GraphQL endpoint.
func Handler(s *ast.Schema) http.Handler {
	text := []byte(Public(s))
	sum := sha256.Sum256(text)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("ETag", etag)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "schema.graphql", time.Time{}, bytes.NewReader(text))
	})
}
