package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/coder/websocket"

	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/internal/gateway"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/upstream"
)

const (
	liveToken  = "live-token"
	liveSecret = "live-webhook-secret"
	liveQuery  = `subscription($filter: ActivityFilter) {
  activityAdded(filter: $filter) { __typename id type createdAt lead { id } }
}`
)

// liveEnv is the server's stack (graphServer) with the live feed, over a
// fake lemlist that can emit activities: /graphql (websocket, SSE, POST)
// behind a bearer token, and /webhooks/lemlist.
type liveEnv struct {
	fake *lemlisttest.Server
	hub  *feed.Hub    // the live feed's
	mux  http.Handler // the stack
	srv  *httptest.Server
}

// newLiveEnv serves the live feed of o, with the webhook secret liveSecret.
func newLiveEnv(t *testing.T, o gateway.LiveFeedOptions) *liveEnv {
	t.Helper()
	fake := lemlisttest.NewServer(lemlisttest.Options{
		RateLimit: lemlisttest.NoRateLimit,
		Dataset:   lemlisttest.DatasetOptions{Seed: 11, Activities: 300},
	})
	t.Cleanup(fake.Close)
	up := upstream.Client(fake.Tenant(lemlisttest.DefaultTenant).Client())
	o.WebhookSecret = liveSecret
	live, err := gateway.NewLiveFeed(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(live.Close)
	h := graphServer(t, stackOptions{up: up, tokens: []string{liveToken}, live: live, deadline: 5 * time.Second})
	e := &liveEnv{fake: fake, hub: live.Hub(), mux: h, srv: httptest.NewServer(h)}
	t.Cleanup(e.srv.Close)
	return e
}

// event is one event of a subscription stream.
type event struct {
	id        string
	createdAt time.Time
	errors    []gqlError
}

type activityAdded struct {
	ActivityAdded *struct {
		Typename  string    `json:"__typename"`
		ID        string    `json:"id"`
		Type      string    `json:"type"`
		CreatedAt time.Time `json:"createdAt"`
		Lead      *struct {
			ID string `json:"id"`
		} `json:"lead"`
	} `json:"activityAdded"`
}

func decodeEvent(data, errs json.RawMessage) (event, error) {
	var ev event
	if len(errs) > 0 && string(errs) != "null" {
		if err := json.Unmarshal(errs, &ev.errors); err != nil {
			return ev, err
		}
	}
	var d activityAdded
	if len(data) > 0 && string(data) != "null" {
		if err := json.Unmarshal(data, &d); err != nil {
			return ev, err
		}
	}
	if a := d.ActivityAdded; a != nil {
		ev.id, ev.createdAt = a.ID, a.CreatedAt
	}
	return ev, nil
}

// transportWS subscribes over graphql-transport-ws and streams its events
// until complete or error; the channel is then closed.
func (e *liveEnv) transportWS(t *testing.T, header http.Header, init map[string]any, vars map[string]any) <-chan event {
	t.Helper()
	return e.transportWSQuery(t, header, init, liveQuery, vars)
}

func (e *liveEnv) transportWSQuery(t *testing.T, header http.Header, init map[string]any, query string, vars map[string]any) <-chan event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	url := strings.Replace(e.srv.URL, "http", "ws", 1) + "/graphql"
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: header})
	if err != nil {
		cancel()
		t.Fatalf("dial: %v", err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "graphql-transport-ws" {
		t.Fatalf("subprotocol %q", got)
	}
	t.Cleanup(func() {
		cancel()
		c.CloseNow()
	})
	type msg struct {
		ID      string          `json:"id,omitempty"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload,omitempty"`
	}
	send := func(m msg) {
		b, _ := json.Marshal(m)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Errorf("write %s: %v", m.Type, err)
		}
	}
	read := func() (msg, error) {
		_, b, err := c.Read(ctx)
		var m msg
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		return m, err
	}
	p, _ := json.Marshal(init)
	send(msg{Type: "connection_init", Payload: p})
	if m, err := read(); err != nil || m.Type != "connection_ack" {
		t.Fatalf("connection_ack: %+v, %v", m, err)
	}
	p, _ = json.Marshal(map[string]any{"query": query, "variables": vars})
	send(msg{ID: "1", Type: "subscribe", Payload: p})
	out := make(chan event, 1000)
	go func() {
		defer close(out)
		for {
			m, err := read()
			if err != nil {
				return
			}
			switch m.Type {
			case "ping":
				send(msg{Type: "pong"})
			case "next":
				var r struct{ Data, Errors json.RawMessage }
				_ = json.Unmarshal(m.Payload, &r)
				ev, err := decodeEvent(r.Data, r.Errors)
				if err != nil {
					t.Errorf("event %s: %v", m.Payload, err)
					return
				}
				out <- ev
			case "error":
				ev, _ := decodeEvent(nil, m.Payload)
				out <- ev
				return
			case "complete":
				return
			}
		}
	}()
	return out
}

// gqlgenWS subscribes with gqlgen's client (the graphql-ws protocol),
// authenticating in connection_init.
func (e *liveEnv) gqlgenWS(t *testing.T) <-chan event {
	t.Helper()
	sub := client.New(e.mux).WebsocketWithPayload(liveQuery, map[string]any{"authorization": "Bearer " + liveToken}, client.Path("/graphql"))
	t.Cleanup(func() { _ = sub.Close() })
	out := make(chan event, 1000)
	go func() {
		defer close(out)
		for {
			var data any // the client's decoder cannot make a time.Time
			err := sub.Next(&data)
			var errs json.RawMessage
			if je, ok := errors.AsType[client.RawJsonError](err); ok {
				errs = je.RawMessage
			} else if err != nil {
				return
			}
			d, _ := json.Marshal(data)
			ev, err := decodeEvent(d, errs)
			if err != nil {
				t.Errorf("event %s: %v", d, err)
				return
			}
			out <- ev
		}
	}()
	return out
}

// sseStream runs a subscription with gqlgen's SSE client, which serves the
// request to its end before reading it: the stream runs until cancel, and
// wait returns its events. seen is told every event as it is written.
func (e *liveEnv) sseStream(t *testing.T, w func(http.ResponseWriter) http.ResponseWriter) (cancel func(), wait func() []event) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		e.mux.ServeHTTP(w(rw), r)
	})
	done := make(chan *client.SSE, 1)
	go func() {
		done <- client.New(h).SSE(ctx, liveQuery, client.Path("/graphql"), client.AddHeader("Authorization", "Bearer "+liveToken))
	}()
	t.Cleanup(cancel)
	return cancel, func() []event {
		sse := <-done
		var out []event
		for {
			var resp client.SSEResponse
			err := sse.Next(&resp)
			if _, ok := errors.AsType[client.RawJsonError](err); !ok && err != nil {
				t.Errorf("SSE: %v", err)
				return out
			}
			if resp.Data == nil && resp.Errors == nil {
				return out // complete
			}
			d, _ := json.Marshal(resp.Data)
			ev, err := decodeEvent(d, resp.Errors)
			if err != nil {
				t.Errorf("SSE event %s: %v", d, err)
				return out
			}
			out = append(out, ev)
		}
	}
}

// tapWriter is a ResponseWriter that tells each write to a func, and can
// hold writes until released.
type tapWriter struct {
	http.ResponseWriter
	tap  func([]byte)
	gate chan struct{} // if set, every write after the first waits for it
	n    int
}

func (w *tapWriter) Write(b []byte) (int, error) {
	if w.gate != nil && w.n > 0 {
		<-w.gate
	}
	w.n++
	if w.tap != nil {
		w.tap(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *tapWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// collect reads events until ids holds all of want, failing on an error
// event or after 10 s; it returns every event read.
func collect(t *testing.T, events <-chan event, want ...string) []event {
	t.Helper()
	var got []event
	missing := map[string]bool{}
	for _, id := range want {
		missing[id] = true
	}
	timeout := time.After(10 * time.Second)
	for len(missing) > 0 {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("stream ended; still missing %v", keys(missing))
			}
			if len(ev.errors) > 0 {
				t.Fatalf("error event %+v", ev.errors)
			}
			got = append(got, ev)
			delete(missing, ev.id)
		case <-timeout:
			t.Fatalf("timed out; still missing %v", keys(missing))
		}
	}
	return got
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// emit makes the fake insert n activities, 2 per tick, calling the
// webhook with secret when hook is set, and returns their ids oldest first
// once the emitter stopped (its webhook calls done).
func (e *liveEnv) emit(t *testing.T, n int, hook bool, secret string) (ids []string, hookErr error) {
	t.Helper()
	o := lemlisttest.EmitOptions{Interval: 10 * time.Millisecond, PerTick: 2}
	if hook {
		o.WebhookURL, o.Secret = e.srv.URL+"/webhooks/lemlist", secret
	}
	var mu sync.Mutex
	enough := make(chan struct{})
	o.OnTick = func(acts []lemlisttest.Activity, err error) {
		mu.Lock()
		defer mu.Unlock()
		for i := len(acts) - 1; i >= 0; i-- {
			ids = append(ids, acts[i].ID)
		}
		if err != nil && hookErr == nil {
			hookErr = err
		}
		if len(ids) >= n && len(ids)-len(acts) < n {
			close(enough)
		}
	}
	stop := e.fake.StartEmitting(context.Background(), o)
	select {
	case <-enough:
	case <-time.After(10 * time.Second):
		t.Fatal("the fake emitted too slowly")
	}
	stop()
	mu.Lock()
	defer mu.Unlock()
	return ids, hookErr
}

// sentinel publishes, through the webhook, an activity no poll will see
// (it is not in the fake), and returns its id. Events are delivered in
// order: once the sentinel arrived, anything sent before it has too.
func (e *liveEnv) sentinel(t *testing.T) string {
	t.Helper()
	id := fmt.Sprintf("act_sentinel%05d", time.Now().Nanosecond()%100000)
	body := `{"_id":"` + id + `","type":"emailsSent","createdAt":"` + time.Now().UTC().Add(time.Hour).Format(time.RFC3339Nano) + `","secret":"` + liveSecret + `"}`
	resp, err := http.Post(e.srv.URL+"/webhooks/lemlist", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("sentinel webhook: %s", resp.Status)
	}
	return id
}

// checkOnce fails unless events are exactly want then the sentinel, each
// once, in createdAt order.
func checkOnce(t *testing.T, events []event, want []string, sentinel string) {
	t.Helper()
	var got []string
	for i, ev := range events {
		got = append(got, ev.id)
		if i > 0 && ev.createdAt.Before(events[i-1].createdAt) {
			t.Errorf("%s (%s) after %s (%s)", ev.id, ev.createdAt, events[i-1].id, events[i-1].createdAt)
		}
	}
	if w := append(slices.Clone(want), sentinel); !slices.Equal(got, w) {
		t.Fatalf("events\n%v\nwant each emitted activity once, then the sentinel\n%v", got, w)
	}
}

// The activities the fake creates during a subscription reach it exactly
// once each, over graphql-transport-ws, from the poller, the webhook or
// both.
func TestLiveFeedTransportWS(t *testing.T) {
	for _, tc := range []struct {
		name       string
		poll, hook bool
	}{{"poller", true, false}, {"webhook", false, true}, {"both", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			var o gateway.LiveFeedOptions // polling off
			if tc.poll {
				o.PollInterval = 50 * time.Millisecond
			}
			e := newLiveEnv(t, o)
			events := e.transportWS(t, http.Header{"Authorization": {"Bearer " + liveToken}}, nil, nil)
			waitFor(t, "the subscription", func() bool { return e.hub.Stats().Subscriptions == 1 })
			if tc.poll {
				waitFor(t, "the baseline", func() bool { return e.hub.Stats().Polls >= 1 })
			}
			want, err := e.emit(t, 10, tc.hook, liveSecret)
			if err != nil {
				t.Fatal(err)
			}
			got := collect(t, events, want...)
			if tc.poll { // give the poller the chance to repeat itself
				n := e.hub.Stats().Polls
				waitFor(t, "3 more polls", func() bool { return e.hub.Stats().Polls >= n+3 })
			}
			s := e.sentinel(t)
			got = append(got, collect(t, events, s)...)
			checkOnce(t, got, want, s)
			st := e.hub.Stats()
			if tc.hook && st.WebhooksAccepted != uint64(len(want))+1 || st.PollErrors != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// gqlgen's own websocket client speaks the older graphql-ws protocol; it
// authenticates in connection_init, whose context must reach the resolver.
func TestLiveFeedGqlgenWebsocketClient(t *testing.T) {
	checkLeaks(t)
	e := newLiveEnv(t, gateway.LiveFeedOptions{PollInterval: 50 * time.Millisecond})
	events := e.gqlgenWS(t)
	waitFor(t, "the baseline", func() bool { return e.hub.Stats().Polls >= 1 })
	want, err := e.emit(t, 6, true, liveSecret)
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, events, want...)
	n := e.hub.Stats().Polls
	waitFor(t, "3 more polls", func() bool { return e.hub.Stats().Polls >= n+3 })
	s := e.sentinel(t)
	checkOnce(t, append(got, collect(t, events, s)...), want, s)
}

func TestLiveFeedSSE(t *testing.T) {
	checkLeaks(t)
	e := newLiveEnv(t, gateway.LiveFeedOptions{PollInterval: 50 * time.Millisecond})
	var (
		mu      sync.Mutex
		written bytes.Buffer
	)
	cancel, wait := e.sseStream(t, func(w http.ResponseWriter) http.ResponseWriter {
		return &tapWriter{ResponseWriter: w, tap: func(b []byte) {
			mu.Lock()
			defer mu.Unlock()
			written.Write(b)
		}}
	})
	seen := func(id string) bool {
		mu.Lock()
		defer mu.Unlock()
		return bytes.Contains(written.Bytes(), []byte(`"`+id+`"`))
	}
	waitFor(t, "the subscription", func() bool { return e.hub.Stats().Subscriptions == 1 })
	waitFor(t, "the baseline", func() bool { return e.hub.Stats().Polls >= 1 })
	want, err := e.emit(t, 10, true, liveSecret)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the emitted activities", func() bool { return seen(want[len(want)-1]) })
	n := e.hub.Stats().Polls
	waitFor(t, "3 more polls", func() bool { return e.hub.Stats().Polls >= n+3 })
	s := e.sentinel(t)
	waitFor(t, "the sentinel", func() bool { return seen(s) })
	cancel()
	checkOnce(t, wait(), want, s)
	waitFor(t, "the subscription to end", func() bool { return e.hub.Stats().Subscriptions == 0 })
}

// A webhook call with a wrong secret is refused and delivers nothing.
func TestLiveFeedWebhookWrongSecret(t *testing.T) {
	checkLeaks(t)
	e := newLiveEnv(t, gateway.LiveFeedOptions{})
	events := e.transportWS(t, http.Header{"Authorization": {"Bearer " + liveToken}}, nil, nil)
	waitFor(t, "the subscription", func() bool { return e.hub.Stats().Subscriptions == 1 })
	emitted, err := e.emit(t, 4, true, "not-the-secret")
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("emitter's webhook error %v, want a 403", err)
	}
	s := e.sentinel(t)
	checkOnce(t, collect(t, events, s), nil, s)
	if st := e.hub.Stats(); st.WebhooksRefused != uint64(len(emitted)) || st.WebhooksAccepted != 1 {
		t.Fatalf("stats %+v for %d calls with a wrong secret", st, len(emitted))
	}
}

// A subscriber that stops reading is dropped with SUBSCRIBER_TOO_SLOW,
// without holding back another subscriber.
func TestLiveFeedSlowSubscriber(t *testing.T) {
	checkLeaks(t)
	const total = 40
	e := newLiveEnv(t, gateway.LiveFeedOptions{Buffer: 8})
	fast := e.transportWS(t, http.Header{"Authorization": {"Bearer " + liveToken}}, nil, nil)
	gate := make(chan struct{})
	cancel, wait := e.sseStream(t, func(w http.ResponseWriter) http.ResponseWriter {
		return &tapWriter{ResponseWriter: w, gate: gate}
	})
	defer cancel()
	waitFor(t, "2 subscriptions", func() bool { return e.hub.Stats().Subscriptions == 2 })
	for i := range total {
		a := &lemlist.Activity{ID: fmt.Sprintf("act_slow%04d", i), Type: "emailsSent", CreatedAt: time.Now().UTC()}
		e.hub.Publish("", a)
		collect(t, fast, a.ID) // the fast one keeps up
	}
	if st := e.hub.Stats(); st.Dropped != 1 || st.Subscriptions != 1 {
		t.Fatalf("stats %+v: the slow subscriber was not dropped", st)
	}
	close(gate)
	events := wait() // the stream ended on its own
	if len(events) == 0 || len(events) > 12 {
		t.Fatalf("%d events for the slow subscriber", len(events))
	}
	last := events[len(events)-1]
	if len(last.errors) != 1 || last.errors[0].Extensions["code"] != graph.CodeSubscriberTooSlow {
		t.Fatalf("last event %+v, want a SUBSCRIBER_TOO_SLOW error", last)
	}
	for _, ev := range events[:len(events)-1] {
		if ev.id == "" {
			t.Fatalf("events %+v", events)
		}
	}
}

func TestLiveFeedRefusals(t *testing.T) {
	checkLeaks(t)
	e := newLiveEnv(t, gateway.LiveFeedOptions{})
	// No token in the header or connection_init: the socket is refused.
	url := strings.Replace(e.srv.URL, "http", "ws", 1) + "/graphql"
	c, _, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	_ = c.Write(context.Background(), websocket.MessageText, []byte(`{"type":"connection_init"}`))
	if _, b, err := c.Read(context.Background()); err == nil {
		t.Fatalf("an unauthenticated socket got %s", b)
	}
	// Bad filters are BAD_USER_INPUT, before any subscription.
	for _, f := range []map[string]any{
		{"type": "emailsSent", "types": []string{"emailsOpened"}},
		{"minDate": "2026-05-11", "maxDate": "2026-05-10"},
		{"channel": "OTHER"},
	} {
		evs := e.transportWS(t, http.Header{"Authorization": {"Bearer " + liveToken}}, nil, map[string]any{"filter": f})
		ev, ok := <-evs
		if !ok || len(ev.errors) == 0 || ev.errors[0].Extensions["code"] != graph.CodeBadUserInput {
			t.Errorf("filter %v: %+v", f, ev)
		}
	}
	if st := e.hub.Stats(); st.Subscriptions != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Filters apply to both sources, types and channel included.
func TestLiveFeedFilters(t *testing.T) {
	checkLeaks(t)
	e := newLiveEnv(t, gateway.LiveFeedOptions{})
	hdr := http.Header{"Authorization": {"Bearer " + liveToken}}
	byTypes := e.transportWS(t, hdr, nil, map[string]any{"filter": map[string]any{"types": []string{"emailsOpened", "paused"}}})
	byChannel := e.transportWS(t, hdr, nil, map[string]any{"filter": map[string]any{"channel": "LINKEDIN"}})
	none := e.transportWS(t, hdr, nil, map[string]any{"filter": map[string]any{"types": []string{"emailsOpened"}, "channel": "LINKEDIN"}})
	// Types none of which is of the channel need no subscription at all.
	waitFor(t, "2 subscriptions", func() bool { return e.hub.Stats().Subscriptions == 2 })
	now := time.Now().UTC()
	for i, typ := range []string{"emailsOpened", "linkedinSent", "emailsSent", "paused", "linkedinInviteAccepted"} {
		e.hub.Publish("", &lemlist.Activity{ID: fmt.Sprint("act_f", i), Type: typ, CreatedAt: now.Add(time.Duration(i) * time.Millisecond)})
	}
	e.hub.Publish("", &lemlist.Activity{ID: "act_end", Type: "paused", CreatedAt: now.Add(time.Second)})
	e.hub.Publish("", &lemlist.Activity{ID: "act_end2", Type: "linkedinSent", CreatedAt: now.Add(time.Second)})
	if got := ids(collect(t, byTypes, "act_end")); got != "act_f0,act_f3,act_end" {
		t.Errorf("types: %s", got)
	}
	if got := ids(collect(t, byChannel, "act_end2")); got != "act_f1,act_f4,act_end2" {
		t.Errorf("channel: %s", got)
	}
	select {
	case ev := <-none:
		t.Errorf("a filter nothing matches got %+v", ev)
	default:
	}
}

func ids(evs []event) string {
	var s []string
	for _, ev := range evs {
		s = append(s, ev.id)
	}
	return strings.Join(s, ",")
}

// Each event is resolved with fresh loaders (graph.Subscriptions): nested
// lookups work, and a subscription's loader caches do not live as long as
// it does.
func TestLiveFeedEventsGetFreshLoaders(t *testing.T) {
	checkLeaks(t)
	e := newLiveEnv(t, gateway.LiveFeedOptions{})
	events := e.transportWSQuery(t, http.Header{"Authorization": {"Bearer " + liveToken}}, nil,
		`subscription { activityAdded { id campaign { id name status } } }`, nil)
	waitFor(t, "the subscription", func() bool { return e.hub.Stats().Subscriptions == 1 })
	camp := e.fake.Tenant(lemlisttest.DefaultTenant).Campaigns()[0]
	e.fake.ResetRequests()
	for i := range 3 {
		a := &lemlist.Activity{ID: fmt.Sprint("act_c", i), Type: "emailsSent", CreatedAt: time.Now().UTC(), CampaignID: camp.ID}
		e.hub.Publish("", a)
		if got := collect(t, events, a.ID); len(got) != 1 {
			t.Fatalf("events %+v", got)
		}
	}
	if n := e.fake.CountRequests("/campaigns/" + camp.ID); n != 3 {
		t.Fatalf("%d campaign lookups for 3 events, want one per event", n)
	}
}
