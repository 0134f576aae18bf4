package graph_test

import (
	"os"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/internal/sdl"
)

// snapshotPath is the committed public schema, relative to this package.
const snapshotPath = "../docs/schema.graphql"

// publicSchema is the schema the server serves, printed as clients get it.
func publicSchema() string {
	return sdl.Public(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema())
}

// The public schema equals its committed snapshot, docs/schema.graphql, so
// that every schema change shows in review as a diff of that file, and a
// change that breaks clients is named before the snapshot is updated.
// UPDATE_SCHEMA_SNAPSHOT=1 rewrites the snapshot.
func TestSchemaSnapshot(t *testing.T) {
	t.Parallel()
	cur := publicSchema()
	if os.Getenv("UPDATE_SCHEMA_SNAPSHOT") != "" {
		if err := os.WriteFile(snapshotPath, []byte(cur), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", snapshotPath)
		return
	}
	b, err := os.ReadFile(snapshotPath)
	if err != nil {
		t.Fatalf("read the snapshot: %v (UPDATE_SCHEMA_SNAPSHOT=1 writes it)", err)
	}
	if string(b) == cur {
		return
	}
	const update = "if the change is intended, run `UPDATE_SCHEMA_SNAPSHOT=1 go test ./graph -run TestSchemaSnapshot` and commit docs/schema.graphql with it"
	breaking := sdl.Breaking(loadSDL(t, string(b)), loadSDL(t, cur))
	if len(breaking) == 0 {
		t.Fatalf("the public schema changed, without breaking clients, and differs from %s: %s", snapshotPath, update)
	}
	var lines []string
	for _, c := range breaking {
		lines = append(lines, "  "+c.String())
	}
	t.Fatalf("the public schema BREAKS clients of %s:\n%s\n%s; tell the schema's users", snapshotPath, strings.Join(lines, "\n"), update)
}

// The snapshot check finds breaking changes in the real schema: each edit
// below, applied to the printed schema, is reported.
func TestSchemaSnapshotDetectsBreakingChanges(t *testing.T) {
	t.Parallel()
	cur := publicSchema()
	old := loadSDL(t, cur)
	if got := sdl.Breaking(old, old); len(got) != 0 {
		t.Fatalf("the schema breaks itself: %v", got)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"  nodes(\n", "  nodez(\n", "Query.nodes: field removed"},
		{"  hasNextPage: Boolean!\n", "  hasNextPage: Boolean\n", "PageInfo.hasNextPage: type changed from Boolean! to Boolean"},
		{"  campaignId: ID\n", "  campaignId: ID!\n", "ActivityFilter.campaignId: type changed from ID to ID!"},
		{"  LINKEDIN\n", "  LINKED_IN\n", "ActivityChannel.LINKEDIN: enum value removed"},
		{"type Lead implements Node {", "type Lead {", "Lead: no longer implements Node"},
	} {
		i := strings.Index(cur, tc.from)
		if i < 0 {
			t.Fatalf("%q is not in the schema", tc.from)
		}
		broken := loadSDL(t, cur[:i]+tc.to+cur[i+len(tc.from):])
		var got []string
		for _, c := range sdl.Breaking(old, broken) {
			got = append(got, c.String())
		}
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%q -> %q: breaking changes %q, want [%q]", tc.from, tc.to, got, tc.want)
		}
	}
}

func loadSDL(t *testing.T, text string) *ast.Schema {
	t.Helper()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: text})
	if err != nil {
		t.Fatalf("the printed schema does not load: %v", err)
	}
	return s
}
