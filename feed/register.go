package feed

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

// Routes of the webhooks, for the gateway to mount and cmd/lemlist-hook to
// call.
const (
	// WebhookPath is lemlist's callback route: WebhookPath itself in
	// server and demo modes, WebhookPath/<tenant> in pass-through mode.
	WebhookPath = "/webhooks/lemlist"
	// RegisterPath is Registrar.Handler's route (POST).
	RegisterPath = WebhookPath + "/register"
)

// MaxRegisterBody bounds the body of a registration (a HookSpec).
const MaxRegisterBody = 64 << 10

// HookService is the part of lemlist's hooks API a Registrar uses;
// *lemlist.HooksService satisfies it.
type HookService interface {
	List(ctx context.Context) ([]*lemlist.Hook, *lemlist.Response, error)
	Create(ctx context.Context, o *lemlist.HookOptions) (*lemlist.Hook, *lemlist.Response, error)
}

// RegistrarOptions configure a Registrar.
type RegistrarOptions struct {
	// Secrets keeps the tenants' secrets: the Webhook's Secrets. Required.
	Secrets SecretStore
	// BaseURL is the server's public root URL, e.g.
	// https://gql.example.com: hooks point at BaseURL/webhooks/lemlist/<tenant>.
	// Required.
	BaseURL string
	// Hooks returns the hooks API of a lemlist key, e.g. the Hooks of
	// lemlist.NewClient(key, …). Required.
	Hooks func(key string) (HookService, error)
	// Key returns the lemlist key a request to Handler carries, and
	// whether it has one. Nil reads "Authorization: Bearer KEY", or
	// "Basic base64(:KEY)" as lemlist does, like pass-through mode.
	Key func(*http.Request) (string, bool)
	// Logger receives failures. Nil discards them.
	Logger *slog.Logger
	// WriteError answers a refused registration with its HTTP status, an
	// error code (e.g. UNAUTHENTICATED) and a message: the gateway's
	// writer, so that the route answers as /graphql does. Nil writes
	// "CODE: message" as text/plain.
	WriteError func(w http.ResponseWriter, r *http.Request, status int, code, msg string)
}

// Registrar registers lemlist webhooks for tenants in pass-through mode:
// given a tenant's lemlist key, it checks the key with lemlist, makes the
// tenant's random secret (or reuses the one it has) in Secrets, and
// registers a hook that calls BaseURL/webhooks/lemlist/<tenant> with it.
// The tenant needs nothing but its key, and never sees the secret; nobody
// holds a secret that is valid for another tenant.
type Registrar struct {
	o    RegistrarOptions
	base string // BaseURL without a trailing slash
}

// NewRegistrar returns a Registrar configured by o.
func NewRegistrar(o RegistrarOptions) (*Registrar, error) {
	if o.Secrets == nil || o.Hooks == nil {
		return nil, errors.New("feed: a registrar needs Secrets and Hooks")
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return nil, errors.New("feed: the registrar's BaseURL must be the server's public root URL, such as https://gql.example.com")
	}
	if o.Key == nil {
		o.Key = lemlistKey
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.WriteError == nil {
		o.WriteError = plainError
	}
	return &Registrar{o: o, base: strings.TrimSuffix(u.String(), "/")}, nil
}

// HookSpec selects the events a hook fires on; the zero value is every
// event.
type HookSpec struct {
	// Type is one event type (e.g. emailsReplied); empty for every one.
	Type string `json:"type,omitempty"`
	// CampaignID restricts the hook to one campaign.
	CampaignID string `json:"campaignId,omitempty"`
	// IsFirst restricts it to first (or non-first) events.
	IsFirst *bool `json:"isFirst,omitempty"`
}

// Register registers a hook of the tenant whose lemlist key is key. It
// checks the key with lemlist first (GET /hooks), so that a key lemlist
// refuses stores no secret: then it returns lemlist's *ErrorResponse.
func (g *Registrar) Register(ctx context.Context, key string, spec HookSpec) (*lemlist.Hook, error) {
	hooks, err := g.o.Hooks(key)
	if err != nil {
		return nil, fmt.Errorf("register a hook: %w", err)
	}
	if _, _, err := hooks.List(ctx); err != nil {
		return nil, fmt.Errorf("register a hook: check the key: %w", err)
	}
	tenant := upstream.TenantID(key)
	secret, err := g.o.Secrets.Ensure(ctx, tenant, NewSecret())
	if err != nil {
		return nil, fmt.Errorf("register a hook: %w", &storeError{err})
	}
	h, _, err := hooks.Create(ctx, &lemlist.HookOptions{
		TargetURL: g.base + WebhookPath + "/" + tenant, Secret: secret,
		Type: spec.Type, CampaignID: spec.CampaignID, IsFirst: spec.IsFirst,
	})
	if err != nil {
		return nil, fmt.Errorf("register a hook: %w (if unsure whether it was registered, list the hooks)", err)
	}
	return h, nil
}

// storeError is a failure of the SecretStore: the server's, not lemlist's.
type storeError struct{ err error }

func (e *storeError) Error() string { return "webhook secrets: " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// Handler returns the HTTP form of Register, for RegisterPath: a POST with
// the tenant's lemlist key (see RegistrarOptions.Key) and a JSON HookSpec
// body ({} for every event) of at most MaxRegisterBody bytes. It answers
// 201 with the hook ({"id","targetUrl","type","campaignId","isFirst"},
// never the secret). Failures go to RegistrarOptions.WriteError with a
// code: 401 UNAUTHENTICATED without a key or when lemlist refuses it; 400
// BAD_REQUEST for a body that is not such an object, 413
// PAYLOAD_TOO_LARGE beyond the bound (both before any call to lemlist);
// 400 BAD_USER_INPUT when lemlist refuses the hook; 429 RATE_LIMITED when
// lemlist rate-limits; 502 UPSTREAM_UNAVAILABLE when lemlist fails
// otherwise; 503 UNAVAILABLE when the store fails; 405
// METHOD_NOT_ALLOWED to other methods.
func (g *Registrar) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			g.o.WriteError(w, r, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "POST only")
			return
		}
		key, ok := g.o.Key(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lemlist-graphql"`)
			g.o.WriteError(w, r, http.StatusUnauthorized, codeUnauthenticated, "missing lemlist API key: send Authorization: Bearer KEY")
			return
		}
		var spec HookSpec
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRegisterBody))
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			g.o.WriteError(w, r, http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", fmt.Sprintf("the body exceeds %d bytes", MaxRegisterBody))
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err != nil || dec.Decode(&spec) != nil || dec.More() {
			g.o.WriteError(w, r, http.StatusBadRequest, "BAD_REQUEST", `the body must be a JSON object such as {"type":"emailsReplied","campaignId":"cam_…","isFirst":true}, or {}`)
			return
		}
		h, err := g.Register(r.Context(), key, spec)
		if err != nil {
			status, code, msg := registerStatus(err)
			g.o.Logger.Warn("live feed: hook registration failed", "tenant", upstream.TenantID(key), "status", status, "error", err.Error())
			g.o.WriteError(w, r, status, code, msg)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(struct {
			ID         string `json:"id"`
			TargetURL  string `json:"targetUrl"`
			Type       string `json:"type,omitempty"`
			CampaignID string `json:"campaignId,omitempty"`
			IsFirst    *bool  `json:"isFirst,omitempty"`
		}{h.ID, h.TargetURL, h.Type, h.CampaignID, h.IsFirst})
	})
}

// codeUnauthenticated is the code of a missing or refused key, as the
// GraphQL endpoint's (graph.CodeUnauthenticated).
const codeUnauthenticated = "UNAUTHENTICATED"

// registerStatus is the answer to a failed registration: its status,
// code and message.
func registerStatus(err error) (int, string, string) {
	if _, ok := errors.AsType[*storeError](err); ok {
		return http.StatusServiceUnavailable, "UNAVAILABLE", "cannot store the webhook secret; try again"
	}
	if _, ok := errors.AsType[*lemlist.RateLimitError](err); ok {
		return http.StatusTooManyRequests, "RATE_LIMITED", "lemlist rate-limits this key; try again"
	}
	if e, ok := errors.AsType[*lemlist.ErrorResponse](err); ok && e.Response != nil {
		switch e.Response.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return http.StatusUnauthorized, codeUnauthenticated, "lemlist refused this API key"
		case http.StatusBadRequest:
			return http.StatusBadRequest, "BAD_USER_INPUT", "lemlist refused the hook: " + e.Message
		}
	}
	return http.StatusBadGateway, "UPSTREAM_UNAVAILABLE", "lemlist failed; list the hooks before trying again"
}

// plainError is the default RegistrarOptions.WriteError.
func plainError(w http.ResponseWriter, _ *http.Request, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, code+": "+msg+"\n")
}

// lemlistKey reads a lemlist key as pass-through mode does: "Bearer KEY",
// or "Basic base64(user:KEY)" with any user.
func lemlistKey(r *http.Request) (string, bool) {
	scheme, v, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	v = strings.TrimSpace(v)
	switch {
	case strings.EqualFold(scheme, "Bearer") && v != "":
		return v, true
	case strings.EqualFold(scheme, "Basic"):
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return "", false
		}
		_, key, ok := strings.Cut(string(b), ":")
		return key, ok && key != ""
	}
	return "", false
}
