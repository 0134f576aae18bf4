// Package lemlist is a typed client for lemlist's REST API
// (https://api.lemlist.com/api).
//
// It covers the calls a GraphQL facade over activities needs: listing
// activities with every documented filter, the lookups for the objects an
// activity points at (leads, contacts, campaigns, team users), and the
// webhooks (/hooks) that feed its live subscriptions.
//
// Every attempt of every call goes through a Limiter, so the client stays
// inside lemlist's budget of 20 requests per 2 seconds per API key; a server
// holding one Client per tenant key shares one limiter per key through
// Limiters. Calls marked Background (a mirror's sync) wait behind the
// others and leave each window's last slots to them. Reads are retried on
// 429, 5xx and transport errors, writes (the hooks' POST and DELETE) on 429
// only (see RetryPolicy), always within the ctx deadline. Failures are
// typed: *ErrorResponse, *RateLimitError and *DecodeError, for errors.As. A
// call whose deadline comes while it waits for a request slot (in the
// Limiter, or for a 429's Retry-After) fails with a *RateLimitError, not
// with the deadline; a cancelled call fails with ctx.Err().
//
// The API key is sent only as the Basic auth password. It never appears in a
// URL, and it is redacted from any upstream text quoted in an error.
package lemlist

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

// DefaultBaseURL is lemlist's API root.
const DefaultBaseURL = "https://api.lemlist.com/api/"

// MaxPageSize is the most activities one GET /activities call returns.
const MaxPageSize = 100

// MaxContactsPerCall is the most ids one GET /contacts?idsOrEmails= call takes.
const MaxContactsPerCall = 100

const (
	// DefaultRateLimit is how many requests lemlist allows per API key in
	// DefaultRateWindow, and the client's default limit.
	DefaultRateLimit = 20
	// DefaultRateWindow is the window of lemlist's rate limit.
	DefaultRateWindow = 2 * time.Second
)

// DefaultTimeout bounds one HTTP attempt unless WithTimeout says otherwise.
const DefaultTimeout = 30 * time.Second

const (
	maxBody      = 8 << 20 // bytes read from a 2xx body
	maxErrorBody = 1 << 20 // bytes read from an error body
)

// Client talks to lemlist's API with one API key. It is safe for concurrent
// use.
type Client struct {
	common service

	apiKey    string
	baseURL   *url.URL
	http      *http.Client
	userAgent string
	timeout   time.Duration
	limiter   Limiter
	retry     RetryPolicy
	obs       Observer

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
	// Hooks registers, lists and deletes webhooks (hooks.go).
	Hooks *HooksService
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
		if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil || u.RawQuery != "" {
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

// WithTimeout bounds each HTTP attempt, body read included; 0 means no bound
// beyond the ctx. The default is DefaultTimeout. An attempt that times out is
// retried like a transport error.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d < 0 {
			return fmt.Errorf("lemlist: negative timeout %s", d)
		}
		c.timeout = d
		return nil
	}
}

// WithLimiter makes the client take its request slots from l, typically
// Limiters.For(apiKey) so that every client of one key shares its budget.
func WithLimiter(l Limiter) Option {
	return func(c *Client) error {
		if l == nil {
			return errors.New("lemlist: nil Limiter")
		}
		c.limiter = l
		return nil
	}
}

// WithRateLimit gives the client its own WindowLimiter of n requests per
// window; n = 0 disables limiting. Without this option or WithLimiter, the
// client limits itself to DefaultRateLimit per DefaultRateWindow.
func WithRateLimit(n int, per time.Duration) Option {
	return func(c *Client) error {
		if err := checkRate(n, per); err != nil {
			return err
		}
		c.limiter = NewWindowLimiter(n, per)
		return nil
	}
}

// WithRetry sets the retry policy; zero fields take their defaults.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) (err error) {
		c.retry, err = p.withDefaults()
		return err
	}
}

// WithObserver sends the client's metrics to o; nil discards them.
func WithObserver(o Observer) Option {
	return func(c *Client) error {
		if o == nil {
			o = NopObserver{}
		}
		c.obs = o
		return nil
	}
}

// NewClient returns a client that authenticates with apiKey.
func NewClient(apiKey string, opts ...Option) (*Client, error) {
	c := &Client{
		apiKey:    apiKey,
		http:      &http.Client{},
		userAgent: "lemlist-graphql",
		timeout:   DefaultTimeout,
		obs:       NopObserver{},
	}
	c.baseURL, _ = url.Parse(DefaultBaseURL)
	c.retry, _ = RetryPolicy{}.withDefaults()
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.limiter == nil {
		c.limiter = NewWindowLimiter(DefaultRateLimit, DefaultRateWindow)
	}
	c.common.client = c
	c.Activities = (*ActivitiesService)(&c.common)
	c.Leads = (*LeadsService)(&c.common)
	c.Contacts = (*ContactsService)(&c.common)
	c.Campaigns = (*CampaignsService)(&c.common)
	c.Team = (*TeamService)(&c.common)
	c.Hooks = (*HooksService)(&c.common)
	return c, nil
}

// Response wraps the upstream HTTP response. Its body has been read and
// closed.
type Response struct {
	*http.Response
	// NextOffset is offset+len(page) when an activities page was full, else 0.
	NextOffset int
}

// get sends GET path?q, retrying per the policy, and decodes the JSON body
// into v. route is the endpoint's template, used in errors and metrics.
func (c *Client) get(ctx context.Context, route, path string, q url.Values, v any) (*Response, error) {
	return c.send(ctx, http.MethodGet, route, path, q, nil, v)
}

// send sends method path?q with body as its JSON body (none when nil) and
// decodes the JSON answer into v. A GET is retried per the policy; any
// other method only after a 429, which lemlist answers without acting on
// the request: a 5xx, a transport error or a cut answer may come after
// lemlist acted, and repeating a POST could act twice.
func (c *Client) send(ctx context.Context, method, route, path string, q url.Values, body []byte, v any) (*Response, error) {
	u, err := c.baseURL.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("lemlist: %s %s: %w", method, route, err)
	}
	u.RawQuery = q.Encode()
	decodeRetried := false
	for attempt := 1; ; attempt++ {
		resp, err := c.attempt(ctx, method, route, u, body, attempt, v)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			if _, ok := errors.AsType[*RateLimitError](err); ok && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return resp, err // rate limited until the deadline: by the Limiter, or a 429
			}
			return resp, fmt.Errorf("lemlist: %s %s: %w", method, route, ctx.Err())
		}
		reason, wait := c.retry.classify(err, attempt)
		if reason == reasonDecode { // retried once only
			if decodeRetried {
				reason = ""
			}
			decodeRetried = true
		}
		if method != http.MethodGet && reason != reasonRateLimited {
			reason = ""
		}
		if reason == "" || attempt == c.retry.MaxAttempts || !fitsDeadline(ctx, wait) {
			return resp, err
		}
		c.obs.Retry(route, reason)
		var sw *SlotWait
		if reason == reasonRateLimited {
			sw = slotWaitOf(ctx) // a Retry-After is a wait for a slot, as the Limiter's
		}
		sw.begin()
		serr := sleep(ctx, wait)
		sw.end()
		switch {
		case serr == nil:
		case reason == reasonRateLimited && errors.Is(serr, context.DeadlineExceeded):
			return resp, err // lemlist's 429: its Retry-After ran out the deadline
		default:
			return resp, fmt.Errorf("lemlist: %s %s: %w", method, route, serr)
		}
	}
}

// attempt makes one rate-limited request and decodes its answer into v.
func (c *Client) attempt(ctx context.Context, method, route string, u *url.URL, body []byte, n int, v any) (*Response, error) {
	start := time.Now()
	var (
		grant    time.Time
		answered func(time.Time) // of a SlotLimiter other than a WindowLimiter
		err      error
	)
	sw := slotWaitOf(ctx)
	sw.begin()
	wl, _ := c.limiter.(*WindowLimiter)
	if wl != nil {
		grant, err = wl.wait(ctx) // WaitSlot without its closure
	} else if sl, ok := c.limiter.(SlotLimiter); ok {
		answered, err = sl.WaitSlot(ctx)
	} else {
		err = c.limiter.Wait(ctx)
	}
	sw.end()
	c.obs.RateLimitWait(time.Since(start))
	if err != nil {
		if e, ok := errors.AsType[*RateLimitError](err); ok && e.Endpoint == "" {
			e.Endpoint = route
			if method != http.MethodGet {
				e.Method = method
			}
		}
		return nil, err
	}

	actx, cancel := ctx, context.CancelFunc(func() {})
	if c.timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	defer cancel()
	var rb io.Reader
	if body != nil {
		rb = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, u.String(), rb)
	if err != nil {
		return nil, fmt.Errorf("lemlist: %s %s: %w", method, route, err)
	}
	req.SetBasicAuth("", c.apiKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", c.userAgent)

	start = time.Now()
	hr, err := c.http.Do(req)
	if wl != nil {
		// The request reached lemlist, if ever, by now: count its slot
		// from here (see WindowLimiter.answered).
		wl.answered(grant, time.Now())
	} else if answered != nil {
		answered(time.Now())
	}
	var answer []byte
	if err == nil {
		defer hr.Body.Close()
		limit := int64(maxErrorBody)
		if hr.StatusCode/100 == 2 {
			limit = maxBody
		}
		answer, err = readBody(hr.Body, hr.ContentLength, limit+1)
	}
	status := 0
	if hr != nil {
		status = hr.StatusCode
	}
	c.obs.Request(route, status, n, time.Since(start))
	if err != nil {
		return nil, c.transportError(method, route, u, actx, err)
	}
	resp := &Response{Response: hr}
	return resp, c.check(method, route, hr, answer, v)
}

// readBody reads at most limit bytes of body, into a buffer of the
// announced size when there is one (io.ReadAll would grow one from 512
// bytes, allocating twice the body along the way).
func readBody(body io.Reader, size, limit int64) ([]byte, error) {
	if size < 0 || size >= limit {
		return io.ReadAll(io.LimitReader(body, limit))
	}
	// One byte more than announced, so that reading EOF needs no growth.
	b := make([]byte, 0, size+1)
	r := io.LimitReader(body, limit)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) { // longer than announced
			b = append(b, 0)[:len(b)]
		}
	}
}

// transportError wraps a failure to exchange a request with lemlist, body
// read included, as a *url.Error (for callers that match it) whose URL has no
// query: the query can hold lead ids and email addresses.
func (c *Client) transportError(method, route string, u *url.URL, actx context.Context, err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	bare := *u
	bare.RawQuery = ""
	op := method[:1] + strings.ToLower(method[1:]) // "Get", as net/http names it
	err = &url.Error{Op: op, URL: bare.String(), Err: err}
	if actx.Err() != nil {
		err = fmt.Errorf("attempt timed out after %s: %w", c.timeout, err)
	}
	return &transportError{method: method, endpoint: route, err: err}
}

// check turns an answer into an error by status, pausing the limiter when
// lemlist reports the budget spent, or decodes a 2xx body into v.
func (c *Client) check(method, route string, hr *http.Response, body []byte, v any) error {
	now := time.Now()
	retryAfter := parseRetryAfter(hr.Header.Get("Retry-After"), now)
	if method == http.MethodGet {
		method = "" // the errors' default
	}
	switch {
	case hr.StatusCode == http.StatusTooManyRequests:
		c.limiter.Pause(now.Add(pauseFor(retryAfter)))
		return &RateLimitError{Response: hr, Method: method, Endpoint: route, RetryAfter: retryAfter}
	case strings.TrimSpace(hr.Header.Get("X-RateLimit-Remaining")) == "0":
		c.limiter.Pause(now.Add(min(pauseFor(retryAfter), DefaultRateWindow)))
	}
	if hr.StatusCode/100 != 2 {
		code, msg := errorText(c.redact(body))
		if msg == "" {
			msg = http.StatusText(hr.StatusCode)
		}
		return &ErrorResponse{Response: hr, StatusCode: hr.StatusCode, Method: method, Endpoint: route, Code: code, Message: msg}
	}
	var err error
	if len(body) > maxBody {
		err = fmt.Errorf("body exceeds %d bytes", maxBody)
	} else {
		err = decodeBody(body, v)
	}
	if err != nil {
		return &DecodeError{
			Method:      method,
			Endpoint:    route,
			Status:      hr.StatusCode,
			ContentType: hr.Header.Get("Content-Type"),
			Snippet:     snippet(c.redact(body)),
			Err:         err,
		}
	}
	return nil
}

// decodeBody decodes a JSON body into v, which points to a struct or to a
// slice of pointers; the body must be a JSON object or an array without nulls
// to match.
func decodeBody(body []byte, v any) error {
	if p, ok := v.(summaryPage); ok {
		if rows, err := decodeSummaries(body); err == nil {
			*p.rows = rows
			return nil
		}
		v = p.rows // the full decode decodes it, or reports why not
	}
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) == 0 || b[0] != '[' && b[0] != '{' {
		return errNotJSON
	}
	rv := reflect.ValueOf(v).Elem()
	if wantArray := rv.Kind() == reflect.Slice; wantArray != (b[0] == '[') {
		return fmt.Errorf("got a JSON %s, want an %s", jsonKind(b[0] == '['), jsonKind(wantArray))
	}
	if p, ok := v.(*[]*Activity); ok {
		if rows, err := decodeActivities(body); err == nil {
			*p = rows
			return nil
		}
		// Fall through: the general path reports the error as it always has.
	}
	if err := json.Unmarshal(body, v); err != nil {
		return err
	}
	if rv.Kind() == reflect.Slice {
		for i := range rv.Len() {
			if rv.Index(i).IsNil() {
				return fmt.Errorf("null at index %d of the array", i)
			}
		}
	}
	return nil
}

// decodeActivities decodes a JSON array of activities with goccy/go-json,
// about four times faster than encoding/json on a 100-row page (the hottest
// decode of the server; docs/benchmarks.md, round 4). Each Raw is the
// element's span of body, not a copy: body must not change afterwards.
//
// It only takes bodies that encoding/json reads the same way: valid UTF-8
// (encoding/json replaces invalid bytes in strings, go-json keeps them) and
// no null element. Any error, or any other body, is left for json.Unmarshal
// to decode or report, so errors read as they always have.
// FuzzDecodeActivities checks the two decoders against each other.
func decodeActivities(body []byte) ([]*Activity, error) {
	return decodeArray(body, func(_, _ int, a *activityAlias, raw []byte) *Activity {
		a.Raw = raw
		return (*Activity)(a)
	})
}

// decodeArray decodes a JSON array of T with go-json under the conditions
// decodeActivities states, and returns what convert makes of each element
// (the i-th of n) and its span of body.
func decodeArray[T any](body []byte, convert func(i, n int, e *T, raw []byte) *Activity) ([]*Activity, error) {
	if !utf8.Valid(body) {
		return nil, errNotJSON
	}
	var rows []*T
	if err := gojson.Unmarshal(body, &rows); err != nil {
		return nil, err
	}
	out := make([]*Activity, len(rows))
	rest := bytes.TrimLeft(body, " \t\r\n")[1:] // past the '['
	for i, e := range rows {
		if e == nil {
			return nil, errNotJSON
		}
		var raw []byte
		raw, rest = nextElement(rest)
		out[i] = convert(i, len(rows), e, raw[:len(raw):len(raw)])
	}
	return out, nil
}

// nextElement splits the next element off the rest of a JSON array that is
// known to be valid: it returns the element's bytes and what follows them.
// Strings are skipped with bytes.IndexByte, since most of a body is in them.
func nextElement(rest []byte) (elem, after []byte) {
	rest = bytes.TrimLeft(rest, ", \t\r\n")
	depth := 0
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case '"':
			i = stringEnd(rest, i)
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // the array's own ']'
				return bytes.TrimRight(rest[:i], " \t\r\n"), rest[i:]
			}
			depth--
		case ',':
			if depth == 0 {
				return bytes.TrimRight(rest[:i], " \t\r\n"), rest[i:]
			}
		}
	}
	return rest, nil
}

// stringEnd returns the index of the quote that closes the JSON string
// opening at b[start]: the next quote after an even number of backslashes.
func stringEnd(b []byte, start int) int {
	for j := start + 1; ; j++ {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		j += k
		backslashes := 0
		for p := j - 1; p > start && b[p] == '\\'; p-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return j
		}
	}
}

// snippet returns the start of a body for an error message.
func snippet(body []byte) string {
	return clean(string(body[:min(len(body), 1<<10)]), 120)
}

func jsonKind(array bool) string {
	if array {
		return "array"
	}
	return "object"
}

// redact replaces the API key, raw or Basic-encoded, in upstream text that
// may end up in an error. It must see the whole text: a key cut in two by a
// truncation would escape it.
func (c *Client) redact(b []byte) []byte {
	if c.apiKey == "" {
		return b
	}
	b = bytes.ReplaceAll(b, []byte(c.apiKey), []byte("[REDACTED]"))
	basic := base64.StdEncoding.EncodeToString([]byte(":" + c.apiKey))
	return bytes.ReplaceAll(b, []byte(basic), []byte("[REDACTED]"))
}
