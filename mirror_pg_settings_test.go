package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lemlist-graphql/server/internal/pgtest"
)

// TestMirrorPostgresSettings: with a real PostgreSQL, a wrong password and
// a role that may not create the mirror's tables in its database each stop
// the server with status 2, naming MIRROR and never quoting the password.
func TestMirrorPostgresSettings(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	const limitedPassword = "limited-pw-4e8a2c6b1d9f"
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`CREATE ROLE limited LOGIN PASSWORD '` + limitedPassword + `'`,
		`CREATE DATABASE locked`,
		`REVOKE ALL ON DATABASE locked FROM PUBLIC`,
		`GRANT CONNECT ON DATABASE locked TO limited`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	conn.Close(ctx)
	// PostgreSQL 15 no longer lets PUBLIC create in the public schema;
	// revoke it anyway, so that the test holds on older servers too.
	lconn, err := pgx.Connect(ctx, pg.URL("locked"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lconn.Exec(ctx, `REVOKE CREATE ON SCHEMA public FROM PUBLIC`); err != nil {
		t.Fatal(err)
	}
	lconn.Close(ctx)

	for _, tc := range []struct {
		name, url, password string
	}{
		{"wrong password", pg.URLFor(pgtest.Superuser, "wrong-pw-7c1e5a9d3b2f", "postgres"), "wrong-pw-7c1e5a9d3b2f"},
		{"no permission to create tables", pg.URLFor("limited", limitedPassword, "locked"), limitedPassword},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			var out bytes.Buffer
			err := run(ctx, nil, envFunc(map[string]string{"MIRROR": tc.url, "LEMLIST_RATE_LIMIT": "0", "DEMO_ACTIVITIES": "10"}), &out)
			var cerr *configError
			if !errors.As(err, &cerr) || exitCode(err) != 2 {
				t.Fatalf("run = %v (exit %d), want a *configError and exit 2", err, exitCode(err))
			}
			if !strings.Contains(err.Error(), "MIRROR") {
				t.Errorf("error %q does not name MIRROR", err)
			}
			if strings.Contains(err.Error(), tc.password) || strings.Contains(out.String(), tc.password) {
				t.Errorf("the password reached the message or the output:\n%v\n%s", err, out.String())
			}
			if strings.Contains(out.String(), "listening") {
				t.Errorf("the server started: %s", out.String())
			}
			t.Logf("%v", err)
		})
	}
}
