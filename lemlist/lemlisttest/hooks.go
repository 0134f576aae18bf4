package lemlisttest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Hook is a webhook registered with the fake (POST /hooks), as lemlist
// keeps it: with its secret, which lemlist never returns (GET /hooks and
// the answers of POST and DELETE leave it out).
type Hook struct {
	ID        string
	TargetURL string
	// Type is the event type the hook fires on; empty for every one.
	Type       string
	CampaignID string
	IsFirst    *bool
	// Secret is what the hook's calls carry in their "secret" field;
	// empty when it was registered without one.
	Secret    string
	CreatedAt time.Time
}

// hookStore is a tenant's registered hooks.
type hookStore struct {
	mu    sync.Mutex
	hooks []Hook
	seq   int
}

// Hooks returns the tenant's registered hooks, secrets included, oldest
// first.
func (t *Tenant) Hooks() []Hook {
	t.hooks.mu.Lock()
	defer t.hooks.mu.Unlock()
	return slices.Clone(t.hooks.hooks)
}

// CallHooks calls each of the tenant's hooks that a fires, as lemlist
// does: a POST to its TargetURL whose body is a's JSON plus the hook's
// secret (see EmitOptions.WebhookURL). A hook fires when its Type is empty
// or a's type, its CampaignID empty or a's campaign, and its IsFirst nil
// or a's. It returns the first failure (a transport error or a non-2xx
// answer), having called every hook; client nil means a client with a 5 s
// timeout.
func (t *Tenant) CallHooks(ctx context.Context, client *http.Client, a Activity) error {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	var first error
	for _, h := range t.Hooks() {
		if (h.Type != "" && h.Type != a.Type) || (h.CampaignID != "" && h.CampaignID != a.CampaignID) ||
			(h.IsFirst != nil && (a.IsFirst == nil && *h.IsFirst || a.IsFirst != nil && *h.IsFirst != *a.IsFirst)) {
			continue
		}
		if err := h.Call(ctx, client, a); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Call posts a to the hook's TargetURL with its secret, as lemlist calls a
// hook. A test may change TargetURL first, to call a server that moved.
func (h Hook) Call(ctx context.Context, client *http.Client, a Activity) error {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	return postHook(ctx, EmitOptions{WebhookURL: h.TargetURL, Secret: h.Secret, HTTPClient: client}, a)
}

// hookJSON is a hook as lemlist serves it: never its secret.
type hookJSON struct {
	ID         string `json:"_id"`
	TargetURL  string `json:"targetUrl"`
	Type       string `json:"type,omitempty"`
	CampaignID string `json:"campaignId,omitempty"`
	IsFirst    *bool  `json:"isFirst,omitempty"`
	CreatedAt  string `json:"createdAt"`
}

func (h Hook) json() hookJSON {
	return hookJSON{h.ID, h.TargetURL, h.Type, h.CampaignID, h.IsFirst, h.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z")}
}

// serveHooks answers GET /hooks: the tenant's hooks.
func (t *Tenant) serveHooks(url.Values, string) response {
	hooks := t.Hooks()
	out := make([]hookJSON, len(hooks))
	for i, h := range hooks {
		out[i] = h.json()
	}
	return jsonResponse(out)
}

// createHook answers POST /hooks: a JSON body {targetUrl, type?, secret?,
// campaignId?, isFirst?}, campaignId and isFirst also as query parameters
// (the body wins).
func (t *Tenant) createHook(r *http.Request, q url.Values, now time.Time) response {
	var body struct {
		TargetURL  string `json:"targetUrl"`
		Type       string `json:"type"`
		Secret     string `json:"secret"`
		CampaignID string `json:"campaignId"`
		IsFirst    *bool  `json:"isFirst"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(raw, &body) != nil {
		return text(http.StatusBadRequest, "Invalid body")
	}
	if u, err := url.Parse(body.TargetURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return text(http.StatusBadRequest, "targetUrl must be an absolute URL")
	}
	if body.CampaignID == "" {
		body.CampaignID = q.Get("campaignId")
	}
	if body.IsFirst == nil && q.Get("isFirst") != "" {
		b, err := strconv.ParseBool(q.Get("isFirst"))
		if err != nil {
			return text(http.StatusBadRequest, "isFirst must be true or false")
		}
		body.IsFirst = &b
	}
	t.hooks.mu.Lock()
	defer t.hooks.mu.Unlock()
	t.hooks.seq++
	h := Hook{
		ID: fmt.Sprintf("hoo_%017d", t.hooks.seq), TargetURL: body.TargetURL, Type: body.Type,
		CampaignID: body.CampaignID, IsFirst: body.IsFirst, Secret: body.Secret, CreatedAt: now.Truncate(time.Millisecond),
	}
	t.hooks.hooks = append(t.hooks.hooks, h)
	return jsonResponse(h.json())
}

// deleteHook answers DELETE /hooks/{id}: the deleted hook, or 404.
func (t *Tenant) deleteHook(id string) response {
	t.hooks.mu.Lock()
	defer t.hooks.mu.Unlock()
	i := slices.IndexFunc(t.hooks.hooks, func(h Hook) bool { return h.ID == id })
	if i < 0 {
		return text(http.StatusNotFound, "Webhook not found")
	}
	h := t.hooks.hooks[i]
	t.hooks.hooks = slices.Delete(t.hooks.hooks, i, i+1)
	return jsonResponse(h.json())
}

// serveHookByID answers GET /hooks/{id}: 405, as lemlist has only DELETE
// there.
func (t *Tenant) serveHookByID(url.Values, string) response {
	return text(http.StatusMethodNotAllowed, "Method Not Allowed")
}
