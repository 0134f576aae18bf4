package graph

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

// Every type, field, argument, input field and enum value of the schema
// carries a description, which GraphiQL shows.
func TestSchemaIsDescribed(t *testing.T) {
	t.Parallel()
	s := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	checked := 0
	for name, def := range s.Types {
		if def.BuiltIn || strings.HasPrefix(name, "__") {
			continue
		}
		checked++
		if strings.TrimSpace(def.Description) == "" {
			t.Errorf("type %s has no description", name)
		}
		for _, f := range def.Fields {
			// Built-in fields: introspection's, and federation's _service
			// and _entities, which gqlgen adds to Query.
			if strings.HasPrefix(f.Name, "__") || f.Position != nil && f.Position.Src.BuiltIn {
				continue
			}
			if strings.TrimSpace(f.Description) == "" {
				t.Errorf("%s.%s has no description", name, f.Name)
			}
			for _, a := range f.Arguments {
				if strings.TrimSpace(a.Description) == "" {
					t.Errorf("argument %s.%s(%s) has no description", name, f.Name, a.Name)
				}
			}
		}
		if def.Kind == ast.Enum {
			for _, v := range def.EnumValues {
				if strings.TrimSpace(v.Description) == "" {
					t.Errorf("enum value %s.%s has no description", name, v.Name)
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d schema types checked: is the schema loaded?", checked)
	}
}
