package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/lemlist-graphql/server/feed"
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

func TestWebhookSecrets(t *testing.T) {
	t.Parallel()
	storetest.RunSecrets(t, func(t *testing.T) feed.SecretBackend { return open(t, "") })
	// They survive a reopen of the file.
	path := filepath.Join(t.TempDir(), "mirror.db")
	s := open(t, path)
	if _, err := s.EnsureWebhookSecret(t.Context(), "t1", "sealed"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if v, ok, err := open(t, path).WebhookSecret(t.Context(), "t1"); v != "sealed" || !ok || err != nil {
		t.Fatalf("after reopening: %q, %v, %v", v, ok, err)
	}
}
