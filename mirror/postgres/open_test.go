package postgres_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/mirror/postgres"
)

// testOpenErrors: each bad input fails Open with an error that names the
// problem and never holds the password.
func testOpenErrors(t *testing.T, c *cluster) {
	const secret = "S3cret-Pa55"
	c.admin(t, "postgres",
		"CREATE ROLE app LOGIN PASSWORD '"+secret+"'",
		"CREATE DATABASE locked", "REVOKE CONNECT ON DATABASE locked FROM PUBLIC",
	)
	owned := c.newDB(t) // owned by the superuser: app may connect but not create tables

	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedPort := refused.Addr().(*net.TCPAddr).Port
	refused.Close()

	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, conn)
		}
	}()
	local := func(port int, db string) string {
		return "postgres://app:" + secret + "@127.0.0.1:" + strconv.Itoa(port) + "/" + db + "?sslmode=disable"
	}

	for _, tc := range []struct {
		name, url string
		step      string
		want      string // in the message
	}{
		{"bad port", "postgres://app:" + secret + "@127.0.0.1:notaport/db", "parse", "invalid connection URL"},
		{"bad escape", "postgres://app:" + secret + "%zz@127.0.0.1/db", "parse", "invalid connection URL"},
		{"bad key=value", "host=127.0.0.1 password=" + secret + " port=abc", "parse", "invalid connection URL"},
		{"bad scheme", "mysql://app:" + secret + "@127.0.0.1/db", "parse", "invalid connection URL"},
		{"wrong password", c.URLFor("app", "wrong-"+secret, owned), "connect", "authentication failed"},
		{"unknown user", c.URLFor("nobody_here", secret, owned), "connect", "authentication failed"},
		{"no database", c.URLFor("app", secret, "missing"), "connect", "no such database"},
		{"refused", local(refusedPort, "db"), "connect", "unreachable"},
		{"no connect permission", c.URLFor("app", secret, "locked"), "connect", "permission denied"},
		{"no create permission", c.URLFor("app", secret, owned), "migrate", "permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := postgres.Open(t.Context(), tc.url, postgres.Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			var oe *postgres.OpenError
			if !errors.As(err, &oe) || oe.Step != tc.step || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q (step %v), want step %s and %q", msg, oe, tc.step, tc.want)
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, strings.ToLower(secret)) {
				t.Errorf("the error shows the password: %q", msg)
			}
		})
	}

	t.Run("silent server", func(t *testing.T) {
		// Open gives up after the connect timeout rather than waiting for
		// an answer forever.
		_, err := postgres.Open(context.Background(), local(silent.Addr().(*net.TCPAddr).Port, "db"),
			postgres.Options{ConnectTimeout: 200 * time.Millisecond})
		var oe *postgres.OpenError
		if !errors.As(err, &oe) || oe.Step != "connect" || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("error %v, want a connect timeout", err)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows the password: %q", err)
		}
	})
}
