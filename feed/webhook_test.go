package feed

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

const secret = "s3cret-webhook-value"

const payload = `{"_id":"act_w1","type":"emailsReplied","createdAt":"2026-05-11T08:07:38.375Z","campaignId":"cam_1","lead":{"_id":"lea_1","variables":{"secret":"lead data"}},"secret":"` + secret + `","leadEmail":"a@example.com"}`

func post(h http.Handler, path, body string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
	return w
}

func TestWebhookDeliversWithoutTheSecret(t *testing.T) {
	hub := NewHub(Options{PollInterval: -1})
	defer hub.Close()
	wh, err := hub.Webhook(WebhookOptions{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	s, err := hub.Subscribe(t.Context(), Tenant{}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if w := post(wh, "/webhooks/lemlist", payload); w.Code != http.StatusNoContent {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	got := recv(t, s, 1)[0]
	if got.ID != "act_w1" || got.Type != "emailsReplied" || got.CampaignID != "cam_1" ||
		!got.CreatedAt.Equal(time.Date(2026, 5, 11, 8, 7, 38, 375e6, time.UTC)) {
		t.Fatalf("activity %+v", got)
	}
	// The secret is gone from the raw JSON; everything else stays, in order.
	want := `{"_id":"act_w1","type":"emailsReplied","createdAt":"2026-05-11T08:07:38.375Z","campaignId":"cam_1","lead":{"_id":"lea_1","variables":{"secret":"lead data"}},"leadEmail":"a@example.com"}`
	if string(got.Raw) != want {
		t.Fatalf("raw\n%s\nwant\n%s", got.Raw, want)
	}
	if strings.Contains(string(got.Raw), secret) {
		t.Fatal("secret delivered")
	}
	if st := hub.Stats(); st.WebhooksAccepted != 1 || st.WebhooksRefused != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWebhookRefusals(t *testing.T) {
	hub := NewHub(Options{PollInterval: -1})
	defer hub.Close()
	wh, err := hub.Webhook(WebhookOptions{Secret: secret, MaxBodyBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	s, err := hub.Subscribe(t.Context(), Tenant{}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	valid := `"_id":"act_1","type":"emailsSent","createdAt":"2026-05-11T08:07:38.375Z"`
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"wrong secret", `{` + valid + `,"secret":"nope"}`, http.StatusForbidden},
		{"secret prefix", `{` + valid + `,"secret":"` + secret[:len(secret)-1] + `"}`, http.StatusForbidden},
		{"secret longer", `{` + valid + `,"secret":"` + secret + `x"}`, http.StatusForbidden},
		{"missing secret", `{` + valid + `}`, http.StatusUnauthorized},
		{"secret not a string", `{` + valid + `,"secret":12}`, http.StatusUnauthorized},
		{"two secrets", `{` + valid + `,"secret":"` + secret + `","Secret":"` + secret + `"}`, http.StatusBadRequest},
		{"not JSON", `secret=` + secret, http.StatusBadRequest},
		{"array", `[{` + valid + `,"secret":"` + secret + `"}]`, http.StatusBadRequest},
		{"trailing data", `{` + valid + `,"secret":"` + secret + `"}{}`, http.StatusBadRequest},
		{"no _id", `{"type":"emailsSent","createdAt":"2026-05-11T08:07:38.375Z","secret":"` + secret + `"}`, http.StatusBadRequest},
		{"no createdAt", `{"_id":"act_1","type":"emailsSent","secret":"` + secret + `"}`, http.StatusBadRequest},
		{"bad createdAt", `{"_id":"act_1","type":"emailsSent","createdAt":"yesterday","secret":"` + secret + `"}`, http.StatusBadRequest},
		{"too large", `{` + valid + `,"note":"` + strings.Repeat("x", 5000) + `","secret":"` + secret + `"}`, http.StatusRequestEntityTooLarge},
	} {
		w := post(wh, "/webhooks/lemlist", tc.body)
		if w.Code != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, w.Code, tc.status, strings.TrimSpace(w.Body.String()))
		}
		if strings.Contains(w.Body.String(), secret) {
			t.Errorf("%s: the answer quotes the secret", tc.name)
		}
	}
	w := httptest.NewRecorder()
	wh.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/webhooks/lemlist", nil))
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET: status %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
	if got := queued(s); len(got) != 0 {
		t.Fatalf("refused calls delivered %s", ids(got))
	}
	if st := hub.Stats(); st.WebhooksAccepted != 0 || st.WebhooksRefused != 14 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := hub.Webhook(WebhookOptions{}); err == nil {
		t.Fatal("a webhook without a secret")
	}
}

// In pass-through mode the URL names the tenant, whose secret derives from
// the server's: the server's own secret, or another tenant's, is refused.
func TestWebhookPerTenant(t *testing.T) {
	hub := NewHub(Options{PollInterval: -1})
	defer hub.Close()
	wh, err := hub.Webhook(WebhookOptions{Secret: secret, PerTenant: true})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/webhooks/lemlist/{tenant}", wh)
	a, b := upstream.TenantID("key-a"), upstream.TenantID("key-b")
	sa, err := hub.Subscribe(t.Context(), Tenant{ID: a}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := hub.Subscribe(t.Context(), Tenant{ID: b}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	body := func(s string) string { return strings.Replace(payload, secret, s, 1) }
	for _, tc := range []struct {
		name, path, body string
		status           int
	}{
		{"server secret", "/webhooks/lemlist/" + a, payload, http.StatusForbidden},
		{"other tenant's secret", "/webhooks/lemlist/" + a, body(TenantSecret(secret, b)), http.StatusForbidden},
		{"not a tenant id", "/webhooks/lemlist/key-a", body(TenantSecret(secret, "key-a")), http.StatusNotFound},
		{"tenant's secret", "/webhooks/lemlist/" + a, body(TenantSecret(secret, a)), http.StatusNoContent},
	} {
		if w := post(mux, tc.path, tc.body); w.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, w.Code, tc.status)
		}
	}
	if got := ids(queued(sa)); got != "act_w1" {
		t.Errorf("tenant a got %q", got)
	}
	if got := queued(sb); len(got) != 0 {
		t.Errorf("tenant b got %s", ids(got))
	}
	if TenantSecret(secret, a) == TenantSecret(secret, b) || TenantSecret(secret, a) == TenantSecret("other", a) {
		t.Error("tenant secrets collide")
	}
}

// An activity that comes by webhook and then by poll (or the reverse) is
// delivered once.
func TestWebhookAndPollerDeliverOnce(t *testing.T) {
	up := &fakeUp{}
	up.add(act("act_base", 1))
	hub := NewHub(Options{PollInterval: tick})
	defer hub.Close()
	wh, err := hub.Webhook(WebhookOptions{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	s, err := hub.Subscribe(t.Context(), Tenant{Upstream: up}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	waitPolls(t, hub, 1)
	hook := func(id string) {
		t.Helper()
		body := `{"_id":"` + id + `","type":"emailsSent","createdAt":"2026-05-11T08:00:05.000Z","secret":"` + secret + `"}`
		if w := post(wh, "/webhooks/lemlist", body); w.Code != http.StatusNoContent {
			t.Fatalf("status %d", w.Code)
		}
	}
	hook("act_w") // webhook first
	up.add(act("act_w", 5))
	next(t, s, "act_w")
	waitPolls(t, hub, 3) // the poller has seen act_w by now
	up.add(act("act_p", 6))
	next(t, s, "act_p")
	hook("act_p") // poll first
	hook("act_w") // a repeated call
	nothingAfter(t, hub, 3, s, "repeated")
}

func TestStripSecret(t *testing.T) {
	for _, tc := range []struct{ in, out, secret string }{
		{`{"a":1,"secret":"x","b":[1,{"secret":2}]}`, `{"a":1,"b":[1,{"secret":2}]}`, "x"},
		{` { "secret" : "x" } `, `{}`, "x"},
		{`{"SECRET":"x","a":"<&>"}`, `{"a":"<&>"}`, "x"},
		{`{"a\u0041":1}`, `{"aA":1}`, ""},
	} {
		out, s, err := stripSecret([]byte(tc.in))
		if err != nil || string(out) != tc.out || (s == nil) != (tc.secret == "") || s != nil && *s != tc.secret {
			t.Errorf("stripSecret(%s) = %s, %v, %v", tc.in, out, s, err)
		}
	}
	for _, bad := range []string{``, `null`, `"x"`, `{"a":}`, `{"a":1`, `{"a":1}x`, `{"secret":"a","secret":"b"}`} {
		if _, _, err := stripSecret([]byte(bad)); err == nil {
			t.Errorf("stripSecret(%s) accepted", bad)
		}
	}
}

// With Ingest, an activity Ingest takes is not published by the hub (the
// mirror publishes it if new); one it declines is published as before.
func TestWebhookIngest(t *testing.T) {
	hub := NewHub(Options{PollInterval: -1})
	defer hub.Close()
	var took []string
	take := true
	wh, err := hub.Webhook(WebhookOptions{Secret: secret, Ingest: func(_ context.Context, tenant string, a *lemlist.Activity) bool {
		took = append(took, tenant+"/"+a.ID)
		return take
	}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := hub.Subscribe(t.Context(), Tenant{}, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if w := post(wh, "/webhooks/lemlist", payload); w.Code != http.StatusNoContent {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	if n := s.pending(); n != 0 {
		t.Fatalf("the hub published an activity Ingest took (%d queued)", n)
	}
	take = false
	if w := post(wh, "/webhooks/lemlist", strings.Replace(payload, "act_w1", "act_w2", 1)); w.Code != http.StatusNoContent {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	if got := recv(t, s, 1)[0]; got.ID != "act_w2" {
		t.Fatalf("published %s, want act_w2", got.ID)
	}
	if strings.Join(took, ",") != "/act_w1,/act_w2" {
		t.Fatalf("Ingest was offered %v", took)
	}
}
