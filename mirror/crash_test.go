package mirror_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/mirror"
)

// The crash child's settings, passed by TestKill9MidWindow.
const (
	envChild = "MIRROR_CRASH_CHILD"
	envURL   = "MIRROR_CRASH_URL"
	envDB    = "MIRROR_CRASH_DB"
)

// TestCrashChild is the child process of TestKill9MidWindow: it backfills
// from the parent's fake into the parent's database until it is killed.
func TestCrashChild(t *testing.T) {
	if os.Getenv(envChild) == "" {
		t.Skip("run by TestKill9MidWindow")
	}
	store := openStore(t, os.Getenv(envDB))
	c, err := lemlist.NewClient(lemlisttest.DefaultAPIKey, lemlist.WithBaseURL(os.Getenv(envURL)),
		lemlist.WithRateLimit(0, 0), lemlist.WithRetry(lemlist.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, store, mirror.ClientList(c), crashOptions())
	if err := e.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func crashOptions() mirror.Options {
	return mirror.Options{Now: func() time.Time { return t0.Add(time.Minute) }, Since: t0.Add(-100 * 24 * time.Hour)}
}

// TestKill9MidWindow kills (SIGKILL) a process running the backfill twice,
// once while it waits for a page and once just after a page arrives (as
// it commits), then resumes in this process: nothing is lost or stored
// twice, and the pages re-read are those in flight.
func TestKill9MidWindow(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	const n = 2000
	fake := newFake(t, n)
	var requests atomic.Int64
	var killAt atomic.Int64 // request number at which to kill the child
	var delay atomic.Int64  // how long after answering it
	var child atomic.Pointer[os.Process]
	h := fake.Handler()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/activities") {
			h.ServeHTTP(w, r)
			return
		}
		k := requests.Add(1)
		if k != killAt.Load() {
			h.ServeHTTP(w, r)
			return
		}
		if d := time.Duration(delay.Load()); d > 0 {
			h.ServeHTTP(w, r)
			w.(http.Flusher).Flush()
			time.Sleep(d)
		}
		for range 5000 { // the child is started before it can call
			if p := child.Load(); p != nil {
				p.Kill() // SIGKILL
				return
			}
			time.Sleep(time.Millisecond)
		}
	}))
	t.Cleanup(proxy.Close)
	db := filepath.Join(t.TempDir(), "mirror.db")

	for _, kill := range []struct {
		at    int64
		delay time.Duration
	}{{at: 6}, {at: 12, delay: time.Millisecond}} {
		killAt.Store(kill.at)
		delay.Store(int64(kill.delay))
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envChild+"=1", envURL+"="+proxy.URL+"/api", envDB+"="+db)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		child.Store(cmd.Process)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ProcessState.String() != "signal: killed" {
			t.Fatalf("child: %v\n%s", err, out.String())
		}
		child.Store(nil)
	}
	killAt.Store(0)

	store := openStore(t, db)
	killed, _ := store.Count(t.Context(), "tenant")
	if killed < 500 || killed >= n {
		t.Fatalf("the children stored %d activities before dying", killed)
	}
	e := newEngine(t, store, newCounted(fake).List, crashOptions())
	if err := e.Backfill(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkExact(t, store, truth(t, fake, time.Time{}))
	// Only the pages in flight at each kill were read twice: the fake
	// answered every call but the first kill's.
	if got, most := calls(fake), n/99+2+1; got > most {
		t.Errorf("%d calls answered in all, want at most %d", got, most)
	}
}
