package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/sqlite"
	"github.com/lemlist-graphql/server/mirror/storetest"
)

// open opens a store in a new file, closed at the end of the test.
func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "mirror.db")
	}
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) mirror.Store { return open(t, "") })
}
