package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// postTransport and getTransport are gqlgen's POST and GET transports
// (transport.POST and transport.GET, v0.17.98) with two changes:
//
//   - They write the executor's data as it is. gqlgen's transports pass
//     the whole response through json.Marshal, which validates and compacts
//     the data (a json.RawMessage that gqlgen's executor has just written
//     compactly) byte by byte: about 5% of the CPU of a 100-row page
//     (docs/benchmarks.md, round 4). On the wire, strings keep '<', '>'
//     and '&' where json.Marshal wrote \u003c, \u003e and \u0026.
//   - A request that fails before execution (unparsable JSON, no query, a
//     parse, validation or variable error, a limit) is answered as the
//     GraphQL over HTTP spec asks, where gqlgen answers 422 and "data":
//     null: no "data" member, 400 with application/graphql-response+json,
//     and with application/json 200 for a well-formed request, 400 for one
//     without a query (docs/compliance.md). A GET of anything but a query
//     is 405, where gqlgen answers 406.
//   - The errors they make themselves (a body or query string that does
//     not decode, a GET of a mutation) carry the code BAD_REQUEST, where
//     gqlgen's have none (and the error presenter would make them
//     INTERNAL).
//
// Which requests they take, the content negotiation and the error texts
// are gqlgen's; TestTransports compares them.
type postTransport struct{}

var _ graphql.Transport = postTransport{}

// Supports takes what transport.POST takes: a JSON POST without an upgrade.
func (postTransport) Supports(r *http.Request) bool { return transport.POST{}.Supports(r) }

// Content types of GraphQL over HTTP answers.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// Do runs one POSTed operation and writes its answer.
func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := setContentType(w, r)
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		requestError(ctx, w, exec, http.StatusBadRequest, "could not read request body: %+v", err)
		return
	}
	var params graphql.RawParams
	if err := jsonDecode(body, &params); err != nil {
		requestError(ctx, w, exec, http.StatusBadRequest, "json request body could not be decoded: %+v body:%s", err, body)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(ctx, w, exec, contentType, &params, false)
}

// getTransport: see postTransport.
type getTransport struct{}

var _ graphql.Transport = getTransport{}

// Supports takes what transport.GET takes: a GET without an upgrade.
func (getTransport) Supports(r *http.Request) bool { return transport.GET{}.Supports(r) }

// Do runs the query of a GET and writes its answer.
func (getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := setContentType(w, r)
	start := graphql.Now()
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		requestError(ctx, w, exec, http.StatusBadRequest, "%s", err)
		return
	}
	params := graphql.RawParams{Query: query.Get("query"), OperationName: query.Get("operationName"), Headers: r.Header}
	for _, p := range []struct {
		name string
		into *map[string]any
	}{{"variables", &params.Variables}, {"extensions", &params.Extensions}} {
		if v := query.Get(p.name); v != "" {
			if err := jsonDecode([]byte(v), p.into); err != nil {
				requestError(ctx, w, exec, http.StatusBadRequest, "%s could not be decoded", p.name)
				return
			}
		}
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(ctx, w, exec, contentType, &params, true)
}

// execute runs an operation whose parameters have been read, and writes
// its answer. With onlyQueries (GET), anything but a query is refused.
func execute(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, contentType string, params *graphql.RawParams, onlyQueries bool) {
	oc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		w.WriteHeader(requestErrorStatus(contentType, params))
		writeRequestError(w, exec.DispatchError(graphql.WithOperationContext(ctx, oc), opErr))
		return
	}
	if onlyQueries && oc.Operation.Operation != ast.Query {
		w.Header().Set("Allow", http.MethodPost)
		requestError(graphql.WithOperationContext(ctx, oc), w, exec, http.StatusMethodNotAllowed, "GET requests only allow query operations")
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	writeResponse(w, responses(ctx))
}

// setContentType sets and returns the content type of the answer to r.
func setContentType(w http.ResponseWriter, r *http.Request) string {
	ct := responseContentType(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", ct)
	return ct
}

// jsonDecode decodes one JSON value as gqlgen's transports do, with
// numbers kept as json.Number.
func jsonDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// requestError answers a request that could not be read with status and
// one error, whose code is BAD_REQUEST.
func requestError(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, status int, format string, args ...any) {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, outcomeBadRequest)
	w.WriteHeader(status)
	writeRequestError(w, exec.DispatchError(ctx, gqlerror.List{err}))
}

// unsupportedTransport takes the POSTs no other transport took: those
// whose Content-Type is not application/json (or is missing). It answers
// 415 with an Accept header naming application/json, or 400 for a
// Content-Type that does not parse, with one error whose code is
// BAD_REQUEST, where gqlgen's executor answers 400 "transport not
// supported" without a code or a content type.
type unsupportedTransport struct{}

var _ graphql.Transport = unsupportedTransport{}

// Supports takes every POST: it comes last.
func (unsupportedTransport) Supports(r *http.Request) bool { return r.Method == http.MethodPost }

// Do answers the request with its error.
func (unsupportedTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	setContentType(w, r)
	ct := r.Header.Get("Content-Type")
	if _, _, err := mime.ParseMediaType(ct); ct != "" && err != nil {
		requestError(r.Context(), w, exec, http.StatusBadRequest, "invalid Content-Type %q: send %s", ct, mediaJSON)
		return
	}
	w.Header().Set("Accept", mediaJSON)
	if ct == "" {
		requestError(r.Context(), w, exec, http.StatusUnsupportedMediaType, "no Content-Type: send %s", mediaJSON)
		return
	}
	requestError(r.Context(), w, exec, http.StatusUnsupportedMediaType, "unsupported Content-Type %q: send %s", ct, mediaJSON)
}

// responseContentType is transport.POST's choice of content type by the
// Accept header, without explicit response headers and with
// UseGrapQLResponseJsonByDefault off.
func responseContentType(accept string) string {
	if accept == "" {
		return mediaJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", mediaJSON:
			return mediaJSON
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		}
	}
	return mediaGraphQLResponse
}

// requestErrorStatus is the status of an answer to a request that failed
// before execution. With application/graphql-response+json, an answer
// without data must be a 4xx. With application/json, a well-formed request
// (one with a query, or a persisted query's hash) gets 200 and its errors,
// so that clients of the older media type read them as GraphQL errors.
func requestErrorStatus(contentType string, params *graphql.RawParams) int {
	if contentType == mediaGraphQLResponse {
		return http.StatusBadRequest
	}
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// writeRequestError writes the answer to a request that failed before
// execution began: its errors (and extensions), without a "data" member, as
// the GraphQL spec asks ("Response Format").
func writeRequestError(w io.Writer, resp *graphql.Response) {
	writeMembers(w, resp, false)
}

// writeResponse writes resp as json.Marshal would, except that the data is
// copied as it is instead of being compacted again: the executor and the
// response cache only ever hold compact, valid JSON there. The members are
// those of graphql.Response, in its order, with its omitempty rules.
func writeResponse(w io.Writer, resp *graphql.Response) {
	writeMembers(w, resp, true)
}

// writeMembers writes resp as a JSON object, with its "data" member when
// withData is set.
func writeMembers(w io.Writer, resp *graphql.Response, withData bool) {
	out := make([]byte, 0, len(resp.Data)+64)
	out = append(out, '{')
	member := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			b, _ = json.Marshal(err.Error())
		}
		out = append(out, '"')
		out = append(out, name...)
		out = append(out, `":`...)
		out = append(out, b...)
		out = append(out, ',')
	}
	if len(resp.Errors) > 0 {
		member("errors", resp.Errors)
	}
	if withData {
		out = append(out, `"data":`...)
		if len(resp.Data) == 0 {
			out = append(out, "null"...)
		} else {
			out = append(out, resp.Data...)
		}
		out = append(out, ',')
	}
	if resp.Label != "" {
		member("label", resp.Label)
	}
	if len(resp.Path) > 0 {
		member("path", resp.Path)
	}
	if resp.HasNext != nil {
		member("hasNext", *resp.HasNext)
	}
	if len(resp.Extensions) > 0 {
		member("extensions", resp.Extensions)
	}
	if out[len(out)-1] == ',' {
		out = out[:len(out)-1]
	}
	out = append(out, '}')
	_, _ = w.Write(out)
}
