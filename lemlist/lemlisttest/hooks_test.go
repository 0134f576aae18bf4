package lemlisttest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// The fake records hooks as lemlist's POST /hooks does, through the real
// client: secrets kept but never served, per tenant, listed and deleted;
// CallHooks posts an activity to the hooks it fires, with their secret.
func TestHooks(t *testing.T) {
	t.Parallel()
	s := twoTenants(t)
	var (
		mu     sync.Mutex
		bodies []map[string]any
	)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		mu.Lock()
		bodies = append(bodies, m)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer target.Close()
	tenant := s.Tenant(lemlisttest.DefaultTenant)
	c := tenant.Client()
	first := true
	h, _, err := c.Hooks.Create(t.Context(), &lemlist.HookOptions{TargetURL: target.URL + "/a", Type: "emailsReplied", Secret: "s3cret-a", CampaignID: "cam_1", IsFirst: &first})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h.ID, "hoo_") || h.TargetURL != target.URL+"/a" || h.Type != "emailsReplied" || h.CampaignID != "cam_1" || h.IsFirst == nil || !*h.IsFirst || h.CreatedAt.IsZero() {
		t.Fatalf("created %+v", h)
	}
	if strings.Contains(string(h.Raw), "s3cret") {
		t.Fatalf("the answer has the secret: %s", h.Raw)
	}
	all, _, err := c.Hooks.Create(t.Context(), &lemlist.HookOptions{TargetURL: target.URL + "/all", Secret: "s3cret-all"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Hooks.Create(t.Context(), &lemlist.HookOptions{TargetURL: "/relative"}); err == nil {
		t.Fatal("a relative target URL")
	}
	listed, _, err := c.Hooks.List(t.Context())
	if err != nil || len(listed) != 2 || listed[0].ID != h.ID || listed[1].ID != all.ID || strings.Contains(string(listed[0].Raw), "s3cret") {
		t.Fatalf("List: %v, %+v", err, listed)
	}
	if got := tenant.Hooks(); len(got) != 2 || got[0].Secret != "s3cret-a" || got[1].Secret != "s3cret-all" {
		t.Fatalf("Hooks: %+v", got)
	}
	if other, _, _ := s.Tenant("b").Client().Hooks.List(t.Context()); len(other) != 0 {
		t.Fatalf("another tenant lists %d hooks", len(other))
	}
	// An activity that only the catch-all hook fires.
	acts, err := tenant.Insert(lemlisttest.ActivitySpec{Type: "emailsOpened"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tenant.CallHooks(t.Context(), nil, acts[0]); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(bodies) != 1 || bodies[0]["_id"] != acts[0].ID || bodies[0]["secret"] != "s3cret-all" {
		t.Fatalf("calls %v", bodies)
	}
	mu.Unlock()
	del, _, err := c.Hooks.Delete(t.Context(), all.ID)
	if err != nil || del.ID != all.ID {
		t.Fatalf("Delete: %v, %+v", err, del)
	}
	_, _, err = c.Hooks.Delete(t.Context(), all.ID)
	if e, ok := errors.AsType[*lemlist.ErrorResponse](err); !ok || e.StatusCode != http.StatusNotFound {
		t.Fatalf("deleting it again: %v", err)
	}
	if got := tenant.Hooks(); len(got) != 1 || got[0].ID != h.ID {
		t.Fatalf("after Delete: %+v", got)
	}
	// A wrong key registers nothing.
	bad, _ := lemlist.NewClient("wrong-key", lemlist.WithBaseURL(s.URL))
	if _, _, err := bad.Hooks.Create(t.Context(), &lemlist.HookOptions{TargetURL: target.URL}); err == nil {
		t.Fatal("a wrong key registered a hook")
	}
	if got := tenant.Hooks(); len(got) != 1 {
		t.Fatalf("%d hooks after a wrong key", len(got))
	}
}
