package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

type gqlRequest struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables,omitempty"`
}

// result is the outcome of one HTTP request.
type result struct {
	kind      string
	latency   time.Duration
	status    int
	transport error
	gqlErrors int
	gqlMsg    string
	bad       string
}

func (r result) err() error {
	switch {
	case r.transport != nil:
		return r.transport
	case r.status != http.StatusOK:
		return fmt.Errorf("HTTP %d", r.status)
	case r.bad != "":
		return errors.New(r.bad)
	case r.gqlErrors > 0:
		return fmt.Errorf("GraphQL error: %s", r.gqlMsg)
	}
	return nil
}

// client is one simulated client's state.
type client struct {
	l    *load
	id   int
	n    int
	buf  bytes.Buffer
	all  hist
	per  map[string]*hist
	errs errorCounts
	msgs map[string]int64
}

// graphql posts a request and, when data is non-nil, decodes its data.
func (l *load) graphql(ctx context.Context, data any, kind string, req gqlRequest) (result, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return result{}, err
	}
	c := &client{l: l}
	res := c.post(ctx, kind, body)
	if res.transport == nil && res.status == http.StatusOK && data != nil {
		var env struct{ Data json.RawMessage }
		if err := json.Unmarshal(c.buf.Bytes(), &env); err != nil {
			return res, err
		}
		if err := json.Unmarshal(env.Data, data); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (c *client) post(ctx context.Context, kind string, body []byte) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.l.o.url, bytes.NewReader(body))
	if err != nil {
		return result{kind: kind, transport: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.l.o.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.l.o.token)
	}
	return c.do(kind, req, checkGraphQL)
}

func (l *load) direct(ctx context.Context, c *client) result {
	if c == nil {
		c = &client{l: l}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.o.upstreamURL+"/activities?version=v2&limit=100", nil)
	if err != nil {
		return result{kind: "direct100", transport: err}
	}
	req.Header.Set("Authorization", l.auth)
	req.Header.Set("Accept", "application/json")
	return c.do("direct100", req, checkJSONArray)
}

// do sends req, reads the whole answer into c.buf and classifies it.
func (c *client) do(kind string, req *http.Request, check func([]byte, *result)) result {
	res := result{kind: kind}
	start := time.Now()
	resp, err := c.l.hc.Do(req)
	if err == nil {
		c.buf.Reset()
		_, err = c.buf.ReadFrom(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		res.status = resp.StatusCode
	}
	res.latency = time.Since(start)
	if err != nil {
		res.transport = err
		return res
	}
	if res.status == http.StatusOK {
		check(c.buf.Bytes(), &res)
	} else if res.status >= 400 && res.status < 500 {
		// Validation errors (422) and auth errors: keep the message.
		res.gqlMsg = snippet(c.buf.Bytes())
	}
	return res
}

// checkGraphQL looks for a non-empty top-level "errors" array. It decodes
// the body only when the word "errors" occurs in it, which keeps the load
// generator's own CPU use low on large pages.
func checkGraphQL(body []byte, res *result) {
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		res.bad = "answer is not a JSON object: " + snippet(b)
		return
	}
	if !bytes.Contains(b, []byte(`"errors"`)) {
		if !bytes.Contains(b, []byte(`"data"`)) {
			res.bad = "answer has neither data nor errors: " + snippet(b)
		}
		return
	}
	var top struct {
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(b, &top); err != nil {
		res.bad = "malformed JSON: " + err.Error()
		return
	}
	res.gqlErrors = len(top.Errors)
	if len(top.Errors) > 0 {
		res.gqlMsg = top.Errors[0].Message
		if code, ok := top.Errors[0].Extensions["code"].(string); ok {
			res.gqlMsg = code + ": " + res.gqlMsg
		}
	}
}

func checkJSONArray(body []byte, res *result) {
	b := bytes.TrimSpace(body)
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		res.bad = "upstream answer is not a JSON array: " + snippet(b)
	}
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// errorCounts are the failures of a run. A request counts once, in the
// first class that applies: transport, then HTTP status, then body.
type errorCounts struct {
	Total     int64 `json:"total"`
	Transport int64 `json:"transport"`
	// HTTPNon200 counts every answer whose status is not 200, 5xx included.
	HTTPNon200 int64 `json:"http_non200"`
	HTTP5xx    int64 `json:"http_5xx"`
	// GraphQL counts 200 answers with a non-empty errors array.
	GraphQL int64 `json:"graphql"`
	// BadBody counts 200 answers that are not the expected JSON.
	BadBody int64 `json:"bad_body"`
}

func (e *errorCounts) add(o errorCounts) {
	e.Total += o.Total
	e.Transport += o.Transport
	e.HTTPNon200 += o.HTTPNon200
	e.HTTP5xx += o.HTTP5xx
	e.GraphQL += o.GraphQL
	e.BadBody += o.BadBody
}

func (c *client) record(res result) {
	c.all.record(res.latency)
	h := c.per[res.kind]
	if h == nil {
		h = &hist{}
		c.per[res.kind] = h
	}
	h.record(res.latency)
	var msg string
	switch {
	case res.transport != nil:
		c.errs.Transport++
		msg = "transport: " + res.transport.Error()
	case res.status != http.StatusOK:
		c.errs.HTTPNon200++
		if res.status >= 500 {
			c.errs.HTTP5xx++
		}
		msg = fmt.Sprintf("HTTP %d: %s", res.status, res.gqlMsg)
	case res.bad != "":
		c.errs.BadBody++
		msg = res.bad
	case res.gqlErrors > 0:
		c.errs.GraphQL++
		msg = "GraphQL: " + res.gqlMsg
	default:
		return
	}
	c.errs.Total++
	if len(c.msgs) < 20 || c.msgs[res.kind+" "+msg] > 0 {
		c.msgs[res.kind+" "+msg]++
	}
}

// op runs one entry of the mix: one HTTP request, or two for timeline.
// take claims a request slot; op returns false when take refuses the first
// one, once the run is over.
func (c *client) op(ctx context.Context, kind string, take func() bool, emit func(result)) bool {
	l := c.l
	c.n++
	pickC := func() string { return l.campaigns[(c.id*7+c.n)%len(l.campaigns)] }
	pickL := func() string { return l.leads[(c.id*13+c.n)%len(l.leads)] }
	if !take() {
		return false
	}
	switch kind {
	case "page20", "page100", "lean100":
		emit(c.post(ctx, kind, l.pages[kind]))
	case "direct100":
		emit(l.direct(ctx, c))
	case "replies":
		body, _ := json.Marshal(gqlRequest{Query: repliesQuery, Variables: map[string]any{"campaign": pickC()}})
		emit(c.post(ctx, kind, body))
	case "campaign":
		body, _ := json.Marshal(gqlRequest{Query: campaignQuery, Variables: map[string]any{"campaign": pickC()}})
		emit(c.post(ctx, kind, body))
	case "timeline":
		lead := pickL()
		body, _ := json.Marshal(gqlRequest{Query: timelineQuery, Variables: map[string]any{"lead": lead}})
		res := c.post(ctx, kind, body)
		emit(res)
		if res.err() != nil {
			return true
		}
		var page struct {
			Data struct {
				Activities struct {
					PageInfo struct {
						HasNextPage bool
						EndCursor   *string
					}
				}
			}
		}
		if err := json.Unmarshal(c.buf.Bytes(), &page); err != nil {
			return true
		}
		pi := page.Data.Activities.PageInfo
		if !pi.HasNextPage || pi.EndCursor == nil || !take() {
			return true
		}
		body, _ = json.Marshal(gqlRequest{Query: timelineQuery, Variables: map[string]any{"lead": lead, "after": *pi.EndCursor}})
		emit(c.post(ctx, kind, body))
	}
	return true
}
