package pgtest_test

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/internal/pgtest"
)

func dial(port int) error {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err == nil {
		c.Close()
	}
	return err
}

// TestStartKillRestart starts a cluster, kills it as a crash would and
// brings it back on the same port.
func TestStartKillRestart(t *testing.T) {
	s := pgtest.Start(t)
	if err := dial(s.Port()); err != nil {
		t.Fatalf("dial after Start: %v", err)
	}
	if got, want := s.URL("db"), "postgres://postgres:pgtest-password@127.0.0.1:"+strconv.Itoa(s.Port())+"/db?sslmode=disable"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	s.Kill()
	if err := dial(s.Port()); err == nil {
		t.Fatal("dial after Kill succeeded")
	}
	s.Restart()
	if err := dial(s.Port()); err != nil {
		t.Fatalf("dial after Restart: %v\n%s", err, s.Log())
	}
}
