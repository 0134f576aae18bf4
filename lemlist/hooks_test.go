package lemlist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const hookJSON = `{"_id":"hoo_1","targetUrl":"https://gql.example.com/webhooks/lemlist","type":"emailsReplied","createdAt":"2026-05-11T08:07:38.375Z","extra":1}`

func TestHooksCreate(t *testing.T) {
	t.Parallel()
	c, mux, hits := setup(t)
	var got struct {
		method, ctype, query, user, pass string
		body                             map[string]any
	}
	mux.HandleFunc("/api/hooks", func(w http.ResponseWriter, r *http.Request) {
		got.method, got.ctype, got.query = r.Method, r.Header.Get("Content-Type"), r.URL.RawQuery
		got.user, got.pass, _ = r.BasicAuth()
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &got.body); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
		fmt.Fprint(w, hookJSON)
	})
	first := true
	h, _, err := c.Hooks.Create(t.Context(), &HookOptions{
		TargetURL: "https://gql.example.com/webhooks/lemlist", Type: "emailsReplied",
		Secret: "s3cret-s3cret", CampaignID: "cam_1", IsFirst: &first,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.method != http.MethodPost || got.ctype != "application/json" || got.pass != testKey {
		t.Errorf("method %s, content type %q, password %q", got.method, got.ctype, got.pass)
	}
	if got.query != "campaignId=cam_1&isFirst=true" {
		t.Errorf("query %q", got.query)
	}
	want := map[string]any{
		"targetUrl": "https://gql.example.com/webhooks/lemlist", "type": "emailsReplied",
		"secret": "s3cret-s3cret", "campaignId": "cam_1", "isFirst": true,
	}
	if fmt.Sprint(got.body) != fmt.Sprint(want) {
		t.Errorf("body %v, want %v", got.body, want)
	}
	if h.ID != "hoo_1" || h.Type != "emailsReplied" || !h.CreatedAt.Equal(time.Date(2026, 5, 11, 8, 7, 38, 375e6, time.UTC)) {
		t.Errorf("hook %+v", h)
	}
	if !strings.Contains(string(h.Raw), `"extra":1`) {
		t.Errorf("raw %s lost a field", h.Raw)
	}
	if hits.Load() != 1 {
		t.Errorf("%d requests", hits.Load())
	}
}

func TestHooksCreateOmitsEmptyFields(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var body, query string
	mux.HandleFunc("/api/hooks", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body, query = string(b), r.URL.RawQuery
		fmt.Fprint(w, hookJSON)
	})
	if _, _, err := c.Hooks.Create(t.Context(), &HookOptions{TargetURL: "http://127.0.0.1:8080/webhooks/lemlist"}); err != nil {
		t.Fatal(err)
	}
	if body != `{"targetUrl":"http://127.0.0.1:8080/webhooks/lemlist"}` || query != "" {
		t.Errorf("body %s, query %q", body, query)
	}
}

func TestHooksCreateRejectsBadTarget(t *testing.T) {
	t.Parallel()
	c, _, hits := setup(t)
	for _, target := range []string{"", "/webhooks/lemlist", "ftp://x/y", "https://", "::"} {
		if _, _, err := c.Hooks.Create(t.Context(), &HookOptions{TargetURL: target}); err == nil {
			t.Errorf("target %q accepted", target)
		}
	}
	if _, _, err := c.Hooks.Create(t.Context(), nil); err == nil {
		t.Error("nil options accepted")
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests sent for invalid options", hits.Load())
	}
}

// A POST that may have reached lemlist is never repeated: not after a 5xx,
// a transport error or a cut body. Only a 429, which lemlist answers
// without acting, is retried.
func TestHooksCreateRetriesOnlyRateLimits(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		first    http.HandlerFunc
		requests int64
		ok       bool
	}{
		"500": {reply(500, "boom"), 1, false},
		"502": {reply(502, "bad gateway"), 1, false},
		"cut body": {func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, hookJSON[:20])
		}, 1, false},
		"connection reset": {func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
		}, 1, false},
		"429": {reply(429, "Too Many Requests", "Retry-After: 0.001"), 2, true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, mux, hits := setup(t)
			mux.HandleFunc("/api/hooks", func(w http.ResponseWriter, r *http.Request) {
				if hits.Load() == 1 {
					tc.first(w, r)
					return
				}
				fmt.Fprint(w, hookJSON)
			})
			_, _, err := c.Hooks.Create(t.Context(), &HookOptions{TargetURL: "https://x.example/h"})
			if (err == nil) != tc.ok || hits.Load() != tc.requests {
				t.Errorf("err %v after %d requests; want ok=%v after %d", err, hits.Load(), tc.ok, tc.requests)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "lemlist: POST hooks: ") {
				t.Errorf("error %q does not name POST hooks", err)
			}
		})
	}
}

func TestHooksCreateErrorHidesSecret(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/api/hooks", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(400)
		fmt.Fprintf(w, "invalid body %s", b)
	})
	_, _, err := c.Hooks.Create(t.Context(), &HookOptions{TargetURL: "https://x.example/h", Secret: "very-secret-value"})
	if err == nil || strings.Contains(err.Error(), "very-secret-value") {
		t.Fatalf("error %v", err)
	}
	var er *ErrorResponse
	if !errors.As(err, &er) || er.StatusCode != 400 || er.Method != http.MethodPost {
		t.Fatalf("error %#v", err)
	}
}

func TestHooksListAndDelete(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /api/hooks", reply(200, "["+hookJSON+"]"))
	var deleted string
	mux.HandleFunc("DELETE /api/hooks/{id}", func(w http.ResponseWriter, r *http.Request) {
		deleted = r.PathValue("id")
		if r.Body != nil {
			if b, _ := io.ReadAll(r.Body); len(b) > 0 {
				t.Errorf("DELETE with a body %s", b)
			}
		}
		fmt.Fprint(w, hookJSON)
	})
	hooks, _, err := c.Hooks.List(t.Context())
	if err != nil || len(hooks) != 1 || hooks[0].ID != "hoo_1" {
		t.Fatalf("List: %v, %+v", err, hooks)
	}
	h, _, err := c.Hooks.Delete(t.Context(), "hoo_1")
	if err != nil || h.ID != "hoo_1" || deleted != "hoo_1" {
		t.Fatalf("Delete: %v, %+v, deleted %q", err, h, deleted)
	}
	for _, id := range []string{"", ".", ".."} {
		if _, _, err := c.Hooks.Delete(t.Context(), id); err == nil {
			t.Errorf("Delete(%q) accepted", id)
		}
	}
}

func TestHooksDeleteNotRetriedOn5xx(t *testing.T) {
	t.Parallel()
	c, mux, hits := setup(t)
	mux.HandleFunc("/api/hooks/{id}", reply(503, "unavailable"))
	_, _, err := c.Hooks.Delete(context.Background(), "hoo_1")
	if err == nil || hits.Load() != 1 || err.Error() != "lemlist: DELETE hooks/{id}: 503 unavailable" {
		t.Fatalf("err %v after %d requests", err, hits.Load())
	}
}

// GET keeps its retries: the method check only narrows other methods.
func TestGetStillRetried(t *testing.T) {
	t.Parallel()
	c, mux, hits := setup(t)
	mux.HandleFunc("/api/hooks", func(w http.ResponseWriter, r *http.Request) {
		if hits.Load() == 1 {
			reply(500, "boom")(w, r)
			return
		}
		fmt.Fprint(w, "[]")
	})
	if _, _, err := c.Hooks.List(t.Context()); err != nil || hits.Load() != 2 {
		t.Fatalf("err %v after %d requests; want success after 2", err, hits.Load())
	}
}
