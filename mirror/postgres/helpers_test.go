package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lemlist-graphql/server/internal/pgtest"
	"github.com/lemlist-graphql/server/mirror/postgres"
)

// cluster is a PostgreSQL server shared by a test's subtests, each with
// databases of its own.
type cluster struct {
	*pgtest.Server
	n atomic.Int64
}

func startCluster(t testing.TB) *cluster {
	t.Helper()
	return &cluster{Server: pgtest.Start(t)}
}

// admin runs statements as the superuser in database db.
func (c *cluster) admin(t testing.TB, db string, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.URL(db))
	if err != nil {
		t.Fatalf("admin connect: %v", err)
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// ints runs a query as the superuser in database db and returns its
// integer column.
func (c *cluster) ints(t testing.TB, db, query string) []int64 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.URL(db))
	if err != nil {
		t.Fatalf("admin connect: %v", err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(context.Background(), query)
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// newDB creates an empty database and returns its name.
func (c *cluster) newDB(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("mirror_%d", c.n.Add(1))
	c.admin(t, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return name
}

// open opens a store on database db, closed at the end of the test.
func open(t testing.TB, url string, opts postgres.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
