package sdl_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lemlist-graphql/server/internal/sdl"
)

// base is the old schema of every case.
const base = `
directive @cached(ttl: Int) repeatable on FIELD_DEFINITION | OBJECT
interface Node { id: ID! }
type Lead implements Node { id: ID! email: String tags: [String!] campaign: Campaign }
type Campaign implements Node { id: ID! name: String! }
union Thing = Lead | Campaign
enum Channel { EMAIL LINKEDIN }
input Filter { type: String ids: [ID!] channel: Channel! }
type Query {
  lead(id: ID!): Lead
  search(filter: Filter, first: Int = 20): [Thing!]!
}
`

func load(t *testing.T, text string) *ast.Schema {
	t.Helper()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "s.graphql", Input: text})
	if err != nil {
		t.Fatalf("load %s: %v", text, err)
	}
	return s
}

func TestBreaking(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		from, to string // replaced in base
		want     []string
	}{
		{"field removed", "email: String ", "", []string{"Lead.email: field removed"}},
		{"field type changed", "email: String ", "email: Int ", []string{"Lead.email: type changed from String to Int"}},
		{"output made nullable", "name: String!", "name: String", []string{"Campaign.name: type changed from String! to String"}},
		{"output made non-null", "email: String ", "email: String! ", nil},
		{"list inner made non-null", "tags: [String!]", "tags: [String!]!", nil},
		{"list became scalar", "tags: [String!]", "tags: String", []string{"Lead.tags: type changed from [String!] to String"}},
		{"argument removed", "lead(id: ID!)", "lead", []string{"Query.lead(id:): argument removed"}},
		{"argument made nullable", "lead(id: ID!)", "lead(id: ID)", nil},
		{"argument made non-null", "filter: Filter,", "filter: Filter!,", []string{"Query.search(filter:): type changed from Filter to Filter!"}},
		{"required argument added", "lead(id: ID!)", "lead(id: ID!, team: ID!)", []string{"Query.lead(team:): required argument added"}},
		{"optional argument added", "lead(id: ID!)", "lead(id: ID!, team: ID, n: Int! = 1)", nil},
		{"default dropped", "first: Int = 20", "first: Int", nil},
		{"input field removed", "type: String ids", "ids", []string{"Filter.type: input field removed"}},
		{"required input field added", "channel: Channel! }", "channel: Channel! team: ID! }", []string{"Filter.team: required input field added"}},
		{"optional input field added", "channel: Channel! }", "channel: Channel! team: ID }", nil},
		{"input list inner changed", "ids: [ID!]", "ids: [String!]", []string{"Filter.ids: type changed from [ID!] to [String!]"}},
		{"enum value removed", "EMAIL LINKEDIN", "EMAIL", []string{"Channel.LINKEDIN: enum value removed"}},
		{"enum value added", "EMAIL LINKEDIN", "EMAIL LINKEDIN SMS", nil},
		{"union member removed", "Lead | Campaign", "Lead", []string{"Thing: union member Campaign removed"}},
		{"interface removed", "type Lead implements Node", "type Lead", []string{"Lead: no longer implements Node"}},
		{"kind changed", "union Thing = Lead | Campaign", "interface Thing { id: ID! }", []string{"Thing: changed from a union to an interface"}},
		{"directive location removed", "FIELD_DEFINITION | OBJECT", "OBJECT", []string{"@cached: location FIELD_DEFINITION removed"}},
		{"directive no longer repeatable", "repeatable on", "on", []string{"@cached: no longer repeatable"}},
		{"directive argument removed", "@cached(ttl: Int)", "@cached", []string{"@cached(ttl:): argument removed"}},
		{"directive removed", "directive @cached(ttl: Int) repeatable on FIELD_DEFINITION | OBJECT", "", []string{"@cached: directive removed"}},
		{"field added", "name: String!", "name: String! status: String", nil},
		{"type added", "enum Channel", "type Extra { x: Int }\nenum Channel", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			to := replaceOnce(t, base, tc.from, tc.to)
			var got []string
			for _, c := range sdl.Breaking(load(t, base), load(t, to)) {
				got = append(got, c.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("breaking changes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBreakingTypeRemoved(t *testing.T) {
	t.Parallel()
	old := load(t, `type Lead { id: ID! } type Campaign { id: ID! } type Query { lead: Lead }`)
	got := sdl.Breaking(old, load(t, `type Lead { id: ID! } type Query { lead: Lead }`))
	if diff := cmp.Diff([]sdl.Change{{Path: "Campaign", Message: "type removed"}}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := sdl.Breaking(old, old); len(got) != 0 {
		t.Errorf("a schema against itself: %v", got)
	}
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	i := strings.Index(s, old)
	if i < 0 || strings.Contains(s[i+len(old):], old) {
		t.Fatalf("%q is not in the base schema exactly once", old)
	}
	return s[:i] + new + s[i+len(old):]
}
