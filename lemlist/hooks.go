package lemlist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HooksService handles /hooks: the webhooks lemlist calls on each event.
type HooksService service

// Hook is a registered webhook.
type Hook struct {
	ID        string `json:"_id"`
	TargetURL string `json:"targetUrl"`
	// Type is the event the hook fires on; empty for every event.
	Type       string    `json:"type,omitempty"`
	CampaignID string    `json:"campaignId,omitempty"`
	IsFirst    *bool     `json:"isFirst,omitempty"`
	ZapID      string    `json:"zapId,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`

	// Raw is the upstream JSON object, untouched.
	Raw json.RawMessage `json:"-"`
}

type hookAlias Hook

// UnmarshalJSON decodes the known fields and keeps a copy of the object in Raw.
func (h *Hook) UnmarshalJSON(b []byte) error { return unmarshalRaw(b, (*hookAlias)(h), &h.Raw) }

// MarshalJSON writes Raw when it is set.
func (h Hook) MarshalJSON() ([]byte, error) { return marshalRaw(h.Raw, (*hookAlias)(&h)) }

// HookOptions describe a webhook to create.
type HookOptions struct {
	// TargetURL is the absolute http(s) URL lemlist POSTs each event to.
	TargetURL string
	// Type restricts the hook to one event type (e.g. "emailsReplied");
	// empty subscribes to every event.
	Type string
	// Secret, when set, is echoed by lemlist as a "secret" field in every
	// callback body, for the receiver to check. lemlist stores it
	// encrypted and never returns it; it cannot be changed later.
	Secret string
	// CampaignID restricts the hook to one campaign.
	CampaignID string
	// IsFirst restricts the hook to first (or non-first) events.
	IsFirst *bool
}

// hookBody is the JSON body of POST /hooks.
type hookBody struct {
	TargetURL  string `json:"targetUrl"`
	Type       string `json:"type,omitempty"`
	Secret     string `json:"secret,omitempty"`
	CampaignID string `json:"campaignId,omitempty"`
	IsFirst    *bool  `json:"isFirst,omitempty"`
}

// Create registers a webhook. lemlist's docs name campaignId and isFirst
// both as query parameters and (since 2024) as body fields: they are sent
// as both. The call is not retried unless lemlist answers 429, since a
// retried POST could register the hook twice; after any other failure,
// List tells whether it was registered. Errors never quote the secret.
//
// lemlist API docs: https://developer.lemlist.com/api-reference/endpoints/webhooks/add-webhook
//
//meta:operation POST /hooks
func (s *HooksService) Create(ctx context.Context, o *HookOptions) (*Hook, *Response, error) {
	if o == nil {
		return nil, nil, errors.New("lemlist: POST hooks: nil options")
	}
	u, err := url.Parse(o.TargetURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, fmt.Errorf("lemlist: POST hooks: target URL %q is not an absolute http(s) URL", o.TargetURL)
	}
	body, err := json.Marshal(hookBody{
		TargetURL: o.TargetURL, Type: o.Type, Secret: o.Secret,
		CampaignID: o.CampaignID, IsFirst: o.IsFirst,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("lemlist: POST hooks: %w", err)
	}
	q := url.Values{}
	if o.CampaignID != "" {
		q.Set("campaignId", o.CampaignID)
	}
	if o.IsFirst != nil {
		q.Set("isFirst", strconv.FormatBool(*o.IsFirst))
	}
	var h Hook
	resp, err := s.client.send(ctx, http.MethodPost, "hooks", "hooks", q, body, &h)
	if err != nil {
		return nil, resp, redactSecret(err, o.Secret)
	}
	return &h, resp, nil
}

// List returns the team's webhooks.
//
//meta:operation GET /hooks
func (s *HooksService) List(ctx context.Context) ([]*Hook, *Response, error) {
	var hooks []*Hook
	resp, err := s.client.get(ctx, "hooks", "hooks", nil, &hooks)
	if err != nil {
		return nil, resp, err
	}
	return hooks, resp, nil
}

// Delete removes the webhook with id (hoo_…) and returns it. Like Create,
// it is retried only after a 429.
//
//meta:operation DELETE /hooks/{hookId}
func (s *HooksService) Delete(ctx context.Context, id string) (*Hook, *Response, error) {
	if id == "" || id == "." || id == ".." {
		return nil, nil, errors.New("lemlist: DELETE hooks/{id}: invalid hook id")
	}
	var h Hook
	resp, err := s.client.send(ctx, http.MethodDelete, "hooks/{id}", "hooks/"+url.PathEscape(id), nil, nil, &h)
	if err != nil {
		return nil, resp, err
	}
	return &h, resp, nil
}

// redactSecret replaces secret in the upstream text an error quotes, in
// case lemlist echoes the request body in an error.
func redactSecret(err error, secret string) error {
	if secret == "" {
		return err
	}
	if e, ok := errors.AsType[*ErrorResponse](err); ok {
		e.Message = strings.ReplaceAll(e.Message, secret, "[REDACTED]")
	}
	if e, ok := errors.AsType[*DecodeError](err); ok {
		e.Snippet = strings.ReplaceAll(e.Snippet, secret, "[REDACTED]")
	}
	if strings.Contains(err.Error(), secret) {
		return errors.New(strings.ReplaceAll(err.Error(), secret, "[REDACTED]"))
	}
	return err
}
