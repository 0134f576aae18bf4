package redisx

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/redisx/redistest"
	"github.com/lemlist-graphql/server/upstream"
)

func TestMain(m *testing.M) {
	RouteLibraryLogs(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// logBuffer collects a Redis's logs, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// replica is one server's Redis client: a replica of the test's "cluster".
type replica struct {
	*Redis
	logs *logBuffer
}

// newReplica connects a new client to srv, probing every 20ms (up to
// 200ms) while it is down. Its commands time out after 2s rather than
// DefaultTimeout: on a loaded test machine a command can wait for a CPU
// longer than that, and a Redis taken for dead would fail tests that
// count on it. Tests of failures kill Redis, which fails commands at once,
// or stop it, with newReplicaTimeout.
func newReplica(t *testing.T, srv *redistest.Server) replica {
	t.Helper()
	return newReplicaTimeout(t, srv, 2*time.Second)
}

func newReplicaTimeout(t *testing.T, srv *redistest.Server, timeout time.Duration) replica {
	t.Helper()
	logs := &logBuffer{}
	r, err := NewWithOptions(t.Context(), Options{
		URL:              srv.URL(),
		Logger:           slog.New(slog.NewTextHandler(logs, nil)),
		Timeout:          timeout,
		ProbeInterval:    20 * time.Millisecond,
		ProbeMaxInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.Close()
		if t.Failed() {
			t.Logf("logs of a Redis client:\n%s", logs)
		}
	})
	return replica{r, logs}
}

// limiter returns the limiter of apiKey from a source of r.
func limiterOf(src upstream.LimiterSource, apiKey string) *Limiter {
	return src.For(apiKey).(*Limiter)
}

// grants records the grants of limiters: their time (Redis's clock for
// shared grants, the local one for fallback grants) and whether Redis made
// them.
type grants struct {
	mu     sync.Mutex
	at     []time.Time
	shared []bool
	who    []string
}

func (g *grants) watch(l *Limiter, who string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.onGrant = func(at time.Time, shared bool) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.at = append(g.at, at)
		g.shared = append(g.shared, shared)
		g.who = append(g.who, who)
	}
}

func (g *grants) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.at)
}

func (g *grants) sharedCount() (shared, local int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range g.shared {
		if s {
			shared++
		} else {
			local++
		}
	}
	return shared, local
}

// checkWindow fails t if more than n of times fall in any window-long
// interval: every n+1 consecutive times must span at least window. It
// returns the most found in one window.
func checkWindow(t *testing.T, what string, times []time.Time, n int, window time.Duration) int {
	t.Helper()
	ts := slices.Clone(times)
	slices.SortFunc(ts, time.Time.Compare)
	most := 0
	j := 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= window {
			j++
		}
		most = max(most, i-j+1)
	}
	for i := 0; i+n < len(ts); i++ {
		if span := ts[i+n].Sub(ts[i]); span < window {
			t.Errorf("%s: %d in %v (from #%d), more than %d per %v", what, n+1, span, i, n, window)
			break
		}
	}
	return most
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// queued returns the number of calls waiting in l's gate.
func (l *Limiter) queued() int {
	l.gate.mu.Lock()
	defer l.gate.mu.Unlock()
	return l.gate.foreground.Len() + l.gate.background.Len()
}

func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
