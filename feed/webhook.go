package feed

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
)

// Defaults of WebhookOptions.
const (
	// DefaultWebhookMaxBody bounds a webhook body.
	DefaultWebhookMaxBody = 1 << 20
	// DefaultReplayWindow is how long a handled call's activity _id is
	// remembered, so that a replay of the call is dropped.
	DefaultReplayWindow = 24 * time.Hour
	// DefaultReplayIDs bounds the ids remembered (about 150 bytes each):
	// beyond, the oldest are forgotten first.
	DefaultReplayIDs = 100_000
)

// WebhookOptions configure Hub.Webhook.
type WebhookOptions struct {
	// Secret is the secret lemlist echoes in each callback body (the
	// server's WEBHOOK_SECRET). It is required, but in PerTenant mode with
	// Secrets.
	Secret string
	// PerTenant serves pass-through mode, where the server has many
	// tenants: the tenant is the request's {tenant} path value (a
	// upstream.TenantID, as in /webhooks/lemlist/{tenant}), and the call
	// must carry that tenant's secret, so that one tenant's secret cannot
	// publish into another's feed. Otherwise every call publishes to the
	// tenant "" (server and demo modes) and must carry Secret itself.
	PerTenant bool
	// Secrets, in PerTenant mode, holds each tenant's secret: a random
	// one the server made when it registered the tenant's hooks
	// (Registrar). A tenant without one is refused. Without Secrets, the
	// tenant's secret is TenantSecret(Secret, tenant), which whoever holds
	// Secret can compute for any tenant: that scheme is deprecated.
	Secrets SecretStore
	// MaxBodyBytes bounds the body; larger ones get 413. Zero means
	// DefaultWebhookMaxBody.
	MaxBodyBytes int64
	// ReplayWindow is how long the _id of a handled activity is
	// remembered, per tenant: a call bringing it again within the window
	// (a replay, or lemlist repeating itself) is answered 204 and
	// publishes nothing. Zero means DefaultReplayWindow; negative turns
	// the check off.
	ReplayWindow time.Duration
	// ReplayIDs bounds the ids remembered; zero means DefaultReplayIDs.
	ReplayIDs int
	// Relay, when set, is given each accepted activity (its JSON, secret
	// stripped) and tenant after local delivery, to pass it on to the
	// other replicas (redisx pub/sub), which hand it to their Hub with
	// DecodeActivity and Publish. When it fails (Redis down), the webhook
	// answers 503 so that lemlist calls again; the call's local delivery
	// is then repeated, which subscriptions drop as a repeat. It must not
	// block for long: the webhook answers lemlist after it returns.
	Relay func(ctx context.Context, tenant string, activity []byte) error
	// Ingest, when set, is offered each accepted activity before the hub
	// publishes it: it returns true when it took the activity (a mirror
	// that stores it and publishes it through Hub.Publish only if it is
	// new, so that a subscriber, a poll and a webhook never disagree);
	// the hub then does not publish it itself. It returns false for a
	// tenant it does not serve, or when it failed (the activity is then
	// published at once, and a later poll's repeat is dropped by each
	// subscription's recent ids). It must not block for long.
	Ingest func(ctx context.Context, tenant string, a *lemlist.Activity) bool
}

// TenantSecret returns the webhook secret of tenant in pass-through mode
// without a SecretStore: the hex HMAC-SHA256 of the tenant id under the
// server's secret. Deprecated: whoever holds the server's secret can
// compute it for every tenant; use a SecretStore and a Registrar.
func TenantSecret(secret, tenant string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("lemlist-graphql/feed.TenantSecret/v1\x00" + tenant))
	return hex.EncodeToString(m.Sum(nil))
}

// Webhook returns the handler of lemlist's webhook calls (POST, the
// activity object plus a "secret" field, no signature). It answers:
//
//   - 405 to any other method;
//   - 404 in PerTenant mode for a {tenant} that is not a tenant id;
//   - 413 beyond MaxBodyBytes, 400 for a body that is no JSON object;
//   - 401 when the body has no secret, 403 when it is wrong (compared in
//     constant time) or the tenant has none, publishing nothing;
//   - 400 for an object without _id, type or createdAt;
//   - 204 for an activity whose _id the tenant's webhooks brought within
//     ReplayWindow, publishing nothing;
//   - 503 (with Retry-After) when Secrets or Relay fails: lemlist calls
//     again;
//   - 204 otherwise, once the activity is queued to the matching
//     subscriptions (none is fine) and relayed.
//
// The secret is removed from the activity, raw JSON included, before it
// is published; bodies are never logged.
func (h *Hub) Webhook(o WebhookOptions) (http.Handler, error) {
	if o.Secret == "" && (!o.PerTenant || o.Secrets == nil) {
		return nil, errors.New("feed: webhook without a secret")
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultWebhookMaxBody
	}
	wh := &webhook{h: h, o: o}
	if o.ReplayWindow >= 0 {
		wh.replay = newReplaySet(cmp.Or(o.ReplayWindow, DefaultReplayWindow), cmp.Or(max(o.ReplayIDs, 0), DefaultReplayIDs))
	}
	return wh, nil
}

type webhook struct {
	h      *Hub
	o      WebhookOptions
	replay *replaySet // nil: off
}

// retryAfter is the Retry-After of a 503, in seconds.
const retryAfter = "5"

func (wh *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		wh.refuse(w, r, http.StatusMethodNotAllowed, "POST only")
		return
	}
	tenant := ""
	if wh.o.PerTenant {
		tenant = r.PathValue("tenant")
		if !isTenantID(tenant) {
			wh.refuse(w, r, http.StatusNotFound, "unknown webhook URL")
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wh.o.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			wh.refuse(w, r, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		wh.refuse(w, r, http.StatusBadRequest, "cannot read the body")
		return
	}
	obj, given, err := stripSecret(body)
	switch {
	case err != nil:
		wh.refuse(w, r, http.StatusBadRequest, "the body is not a JSON object")
		return
	case given == nil:
		wh.refuse(w, r, http.StatusUnauthorized, "missing secret")
		return
	}
	secret, err := wh.secret(r.Context(), tenant)
	switch {
	case errors.Is(err, ErrNoSecret):
		wh.refuse(w, r, http.StatusForbidden, "wrong secret") // as for a wrong one: no tenant enumeration
		return
	case err != nil:
		wh.unavailable(w, r, "cannot check the secret", err)
		return
	case !sameSecret(*given, secret):
		wh.refuse(w, r, http.StatusForbidden, "wrong secret")
		return
	}
	a, err := DecodeActivity(obj)
	if err != nil {
		wh.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	key := tenant + "\x00" + a.ID
	if wh.replay != nil && !wh.replay.claim(key, time.Now()) {
		wh.h.hooksReplayed.Add(1)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if wh.o.Ingest == nil || !wh.o.Ingest(r.Context(), tenant, a) {
		wh.h.Publish(tenant, a)
	}
	if wh.o.Relay != nil {
		if err := wh.o.Relay(r.Context(), tenant, obj); err != nil {
			if wh.replay != nil {
				wh.replay.release(key) // lemlist's retry must get through
			}
			wh.h.hooksRelayFailed.Add(1)
			wh.unavailable(w, r, "cannot pass the activity to the other replicas", err)
			return
		}
	}
	wh.h.hooksOK.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

// secret returns the secret a call for tenant must carry.
func (wh *webhook) secret(ctx context.Context, tenant string) (string, error) {
	switch {
	case !wh.o.PerTenant:
		return wh.o.Secret, nil
	case wh.o.Secrets != nil:
		return wh.o.Secrets.Secret(ctx, tenant)
	}
	return TenantSecret(wh.o.Secret, tenant), nil
}

// unavailable answers 503 for a failure of the server's own (a store,
// Redis), so that lemlist calls again.
func (wh *webhook) unavailable(w http.ResponseWriter, r *http.Request, msg string, err error) {
	wh.h.o.Logger.Warn("live feed: webhook failed; lemlist is asked to retry", "reason", msg, "error", err.Error(), "remote", r.RemoteAddr)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Retry-After", retryAfter)
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, msg+"\n")
}

// DecodeActivity decodes an activity that a webhook or another replica
// brought, which must have an _id, a type and a createdAt.
func DecodeActivity(obj []byte) (*lemlist.Activity, error) {
	var a lemlist.Activity
	if err := json.Unmarshal(obj, &a); err != nil || a.ID == "" || a.Type == "" || a.CreatedAt.IsZero() {
		return nil, errors.New("not an activity: _id, type and createdAt are required")
	}
	return &a, nil
}

func (wh *webhook) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	wh.h.hooksRefused.Add(1)
	wh.h.o.Logger.Warn("live feed: webhook refused", "status", status, "reason", msg, "remote", r.RemoteAddr)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// sameSecret compares secrets in constant time, whatever their lengths.
func sameSecret(given, want string) bool {
	g, w := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// isTenantID reports whether s looks like an upstream.TenantID: 32
// lowercase hex digits.
func isTenantID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// stripSecret returns the JSON object body without its "secret" members
// (matched case-insensitively, as encoding/json would), its other members
// untouched and in order, and the secret when it was a JSON string. A body
// that is not exactly one JSON object, or has several secret members, is
// an error.
func stripSecret(body []byte) (obj []byte, secret *string, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, errors.New("not a JSON object")
	}
	out := make([]byte, 1, len(body))
	out[0] = '{'
	found := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		if strings.EqualFold(key, "secret") {
			if found {
				return nil, nil, errors.New("several secret members")
			}
			found = true
			var s string
			if json.Unmarshal(v, &s) == nil {
				secret = &s
			}
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(key)
		out = append(out, k...)
		out = append(out, ':')
		out = append(out, v...)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("data after the JSON object")
	}
	return append(out, '}'), secret, nil
}
