// Package lemlist is a typed client for lemlist's REST API
// (https://api.lemlist.com/api).
//
// It covers the calls a GraphQL facade over activities needs: listing
// activities with every documented filter, and the lookups for the objects an
// activity points at (leads, contacts, campaigns, team users). Every call made
// with one API key goes through one rate limiter, so the client stays inside
// lemlist's budget of 20 requests per 2 seconds per key.
package lemlist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is lemlist's API root.
const DefaultBaseURL = "https://api.lemlist.com/api/"

// MaxPageSize is the most activities one GET /activities call returns.
const MaxPageSize = 100

// MaxContactsPerCall is the most ids one GET /contacts?idsOrEmails= call takes.
const MaxContactsPerCall = 100

// Client talks to lemlist's API with one API key.
type Client struct {
	common service

	apiKey    string
	baseURL   *url.URL
	http      *http.Client
	userAgent string

	// Activities lists activities.
	Activities *ActivitiesService
	// Leads looks up leads.
	Leads *LeadsService
	// Contacts looks up contacts.
	Contacts *ContactsService
	// Campaigns looks up campaigns.
	Campaigns *CampaignsService
	// Team reads the team and its users.
	Team *TeamService
}

type service struct{ client *Client }

// ActivitiesService handles GET /activities.
type ActivitiesService service

// LeadsService handles GET /leads.
type LeadsService service

// ContactsService handles GET /contacts.
type ContactsService service

// CampaignsService handles GET /campaigns/{id}.
type CampaignsService service

// TeamService handles GET /team.
type TeamService service

// Option configures a Client.
type Option func(*Client) error

// WithBaseURL sets the API root, e.g. "http://127.0.0.1:9000/api". A missing
// trailing slash is added.
func WithBaseURL(raw string) Option {
	return func(c *Client) error {
		if !strings.HasSuffix(raw, "/") {
			raw += "/"
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("lemlist: invalid base URL %q", raw)
		}
		c.baseURL = u
		return nil
	}
}

// WithHTTPClient sets the HTTP client used for every call.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("lemlist: nil http.Client")
		}
		c.http = hc
		return nil
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *Client) error { c.userAgent = ua; return nil }
}

// NewClient returns a client that authenticates with apiKey.
func NewClient(apiKey string, opts ...Option) (*Client, error) {
	c := &Client{apiKey: apiKey, http: &http.Client{Timeout: 30 * time.Second}, userAgent: "lemlist-graphql"}
	c.baseURL, _ = url.Parse(DefaultBaseURL)
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	c.common.client = c
	c.Activities = (*ActivitiesService)(&c.common)
	c.Leads = (*LeadsService)(&c.common)
	c.Contacts = (*ContactsService)(&c.common)
	c.Campaigns = (*CampaignsService)(&c.common)
	c.Team = (*TeamService)(&c.common)
	return c, nil
}

// Response wraps the upstream HTTP response.
type Response struct {
	*http.Response
	// NextOffset is offset+len(page) when an activities page was full, else 0.
	NextOffset int
}

// getJSON sends GET endpoint?q and decodes the JSON body into v.
func (c *Client) getJSON(ctx context.Context, endpoint string, q url.Values, v any) (*Response, error) {
	u, err := c.baseURL.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth("", c.apiKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	hr, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	defer hr.Body.Close()
	resp := &Response{Response: hr}
	body, err := io.ReadAll(io.LimitReader(hr.Body, 32<<20))
	if err != nil {
		return resp, fmt.Errorf("GET %s: read body: %w", endpoint, err)
	}
	if hr.StatusCode/100 != 2 {
		return resp, fmt.Errorf("GET %s: %d %s", endpoint, hr.StatusCode, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return resp, fmt.Errorf("GET %s: decode: %w", endpoint, err)
	}
	return resp, nil
}
