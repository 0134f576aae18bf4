package feed

import (
	"bytes"
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

	"github.com/lemlist-graphql/server/lemlist"
)

// DefaultWebhookMaxBody bounds a webhook body unless
// WebhookOptions.MaxBodyBytes says otherwise.
const DefaultWebhookMaxBody = 1 << 20

// WebhookOptions configure Hub.Webhook.
type WebhookOptions struct {
	// Secret is the secret lemlist echoes in each callback body (the
	// server's WEBHOOK_SECRET). It must not be empty.
	Secret string
	// PerTenant serves pass-through mode, where the server has many
	// tenants: the tenant is the request's {tenant} path value (a
	// upstream.TenantID, as in /webhooks/lemlist/{tenant}), and its secret
	// is TenantSecret(Secret, tenant), so that one tenant's secret cannot
	// publish into another's feed. Otherwise every call publishes to the
	// tenant "" (server and demo modes) and must carry Secret itself.
	PerTenant bool
	// MaxBodyBytes bounds the body; larger ones get 413. Zero means
	// DefaultWebhookMaxBody.
	MaxBodyBytes int64
	// Relay, when set, is given each accepted activity (its JSON, secret
	// stripped) and tenant after local delivery, to pass it on to the
	// other replicas (redisx pub/sub), which hand it to their Hub with
	// DecodeActivity and Publish. It must not block for long: the webhook
	// answers lemlist after it returns.
	Relay func(ctx context.Context, tenant string, activity []byte)
}

// TenantSecret returns the webhook secret of tenant in pass-through mode:
// the hex HMAC-SHA256 of the tenant id under the server's secret.
// cmd/lemlist-hook registers hooks with it.
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
//     constant time), publishing nothing;
//   - 400 for an object without _id, type or createdAt;
//   - 204 otherwise, once the activity is queued to the matching
//     subscriptions (none is fine).
//
// The secret is removed from the activity, raw JSON included, before it
// is published; bodies are never logged.
func (h *Hub) Webhook(o WebhookOptions) (http.Handler, error) {
	if o.Secret == "" {
		return nil, errors.New("feed: webhook without a secret")
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultWebhookMaxBody
	}
	return &webhook{h: h, o: o}, nil
}

type webhook struct {
	h *Hub
	o WebhookOptions
}

func (wh *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		wh.refuse(w, r, http.StatusMethodNotAllowed, "POST only")
		return
	}
	tenant, secret := "", wh.o.Secret
	if wh.o.PerTenant {
		tenant = r.PathValue("tenant")
		if !isTenantID(tenant) {
			wh.refuse(w, r, http.StatusNotFound, "unknown webhook URL")
			return
		}
		secret = TenantSecret(wh.o.Secret, tenant)
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
	case !sameSecret(*given, secret):
		wh.refuse(w, r, http.StatusForbidden, "wrong secret")
		return
	}
	a, err := DecodeActivity(obj)
	if err != nil {
		wh.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	wh.h.hooksOK.Add(1)
	wh.h.Publish(tenant, a)
	if wh.o.Relay != nil {
		wh.o.Relay(r.Context(), tenant, obj)
	}
	w.WriteHeader(http.StatusNoContent)
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
