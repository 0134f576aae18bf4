package gateway

import (
	"bytes"
	"context"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// deadlineRecorder is a ResponseWriter that notes the deadlines lifted
// from it (set to zero), as http.ResponseController sets them on a
// connection.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	mu     sync.Mutex
	lifted []string
	liftc  chan struct{} // closed at the first lift
}

func newDeadlineRecorder() *deadlineRecorder {
	return &deadlineRecorder{ResponseRecorder: httptest.NewRecorder(), liftc: make(chan struct{})}
}

func (d *deadlineRecorder) note(which string, t time.Time) error {
	if !t.IsZero() {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.lifted) == 0 {
		close(d.liftc)
	}
	d.lifted = append(d.lifted, which)
	return nil
}

func (d *deadlineRecorder) SetReadDeadline(t time.Time) error  { return d.note("read", t) }
func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error { return d.note("write", t) }

func (d *deadlineRecorder) liftedDeadlines() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.lifted, ",")
}

// liveGateway is a gateway over the fake's default tenant with a live
// feed (webhooks only), open to all.
func liveGateway(t *testing.T) http.Handler {
	t.Helper()
	l, err := NewLiveFeed(LiveFeedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	g, err := New(Options{Auth: OpenAuth(&Tenant{Upstream: fakeUpstream(t)}), Live: l, RequestTimeout: time.Minute, MaxBodyBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return g.Handler()
}

func ssePost(ctx context.Context, body string) *http.Request {
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "text/event-stream")
	return r
}

// Only subscriptions lose the server's read and write timeouts: a query
// over SSE keeps them, as over plain POST (issue 13, item 9).
func TestSSEDeadlines(t *testing.T) {
	t.Parallel()
	h := liveGateway(t)

	w := newDeadlineRecorder()
	h.ServeHTTP(w, ssePost(t.Context(), `{"query":"{ activities(first: 1) { edges { node { id } } } }"}`))
	if !strings.Contains(w.Body.String(), "event: next") || !strings.Contains(w.Body.String(), `"id":"act_`) {
		t.Fatalf("query over SSE: %d %q", w.Code, w.Body.String())
	}
	if got := w.liftedDeadlines(); got != "" {
		t.Errorf("a query over SSE lifted the deadlines: %s", got)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w = newDeadlineRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(w, ssePost(ctx, `{"query":"subscription { activityAdded { id } }"}`))
	}()
	select {
	case <-w.liftc:
	case <-done:
		t.Fatalf("the subscription ended: %q", w.Body.String())
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription never lifted the deadlines")
	}
	cancel()
	<-done
	if got := w.liftedDeadlines(); got != "read,write" {
		t.Errorf("a subscription over SSE lifted %q, want read,write", got)
	}
}

// A body that is not JSON gets a 400 over SSE, and nothing reaches the
// standard logger, outside the JSON logs (gqlgen's transport logs the
// body there). Not parallel: it captures the standard logger.
func TestSSEBadBodyNotLogged(t *testing.T) {
	h := liveGateway(t)
	var logged bytes.Buffer
	prev, flags := log.Writer(), log.Flags()
	log.SetOutput(&logged)
	defer func() { log.SetOutput(prev); log.SetFlags(flags) }()

	w := newDeadlineRecorder()
	h.ServeHTTP(w, ssePost(t.Context(), `{"query": "{ activities { totalCount } }", "variables": {"email": "jane@example.com"`))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "could not be decoded") {
		t.Errorf("bad body over SSE: %d %q", w.Code, w.Body.String())
	}
	if logged.Len() > 0 {
		t.Errorf("the standard logger got %q", logged.String())
	}
}
