package trusted_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/internal/trusted"
)

// testdata/relay-persisted.json is what relay-compiler 21 wrote
// (persistConfig with algorithm SHA256) for the fixture app of
// test/e2e/relay, which test/e2e/relay.mjs compiles on every run: its ids
// are the SHA-256 of the texts, and its documents are valid against the
// server's schema.
func TestRelayCompilerManifest(t *testing.T) {
	t.Parallel()
	const path = "testdata/relay-persisted.json"
	m, err := trusted.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var docs map[string]string
	if err := json.Unmarshal(b, &docs); err != nil {
		t.Fatal(err)
	}
	if m.Len() != len(docs) || len(docs) != 3 {
		t.Fatalf("Len = %d, the file has %d documents, want 3", m.Len(), len(docs))
	}
	for id, text := range docs {
		if sha(text) != id {
			t.Errorf("id %s is not the SHA-256 of its text", id)
		}
	}
	if err := m.Check(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()); err != nil {
		t.Error(err)
	}
}
