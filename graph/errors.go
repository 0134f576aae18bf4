package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/mirror"
)

// Error codes set in extensions.code.
const (
	CodeBadUserInput        = "BAD_USER_INPUT"
	CodeUnauthenticated     = "UNAUTHENTICATED"
	CodeForbidden           = "FORBIDDEN"
	CodeNotFound            = "NOT_FOUND"
	CodeRateLimited         = "RATE_LIMITED"
	CodeUpstreamUnavailable = "UPSTREAM_UNAVAILABLE"
	CodeInternal            = "INTERNAL"
	// CodeMirrorUnavailable: a question only the mirror answers
	// (activitySeries), and the mirror is off for the caller's team.
	CodeMirrorUnavailable = "MIRROR_UNAVAILABLE"
	// CodeMirrorNotCovered: a question only the mirror answers, for a
	// range the mirror does not hold yet (its backfill has not reached it).
	CodeMirrorNotCovered = "MIRROR_NOT_COVERED"
	// CodeMirrorRequired: activityStats with a condition lemlist cannot
	// apply (filter.campaignIds, filter.userId) when the mirror cannot
	// answer.
	CodeMirrorRequired = "MIRROR_REQUIRED"
	// CodeUnsupportedFilter: a list or subscription given a condition
	// only the mirror applies (UnsupportedFilterError).
	CodeUnsupportedFilter = "UNSUPPORTED_FILTER"
)

// UnsupportedFilterError is a filter condition lemlist cannot apply, given
// where only lemlist answers (a list, a subscription).
type UnsupportedFilterError struct {
	// Arg names the condition, e.g. filter.userId.
	Arg string
	Msg string
}

func (e *UnsupportedFilterError) Error() string { return e.Arg + ": " + e.Msg }

// The mirror's refusals, wrapped with their detail; classify gives each
// its code, and their messages are the client's.
var (
	// ErrMirrorUnavailable: the mirror is off for the tenant.
	ErrMirrorUnavailable = errors.New("the mirror is off for this team (MIRROR=off)")
	// ErrMirrorNotCovered: the mirror does not hold the range.
	ErrMirrorNotCovered = errors.New("the mirror does not cover this range yet")
	// ErrMirrorRequired: only the mirror can answer, and it cannot. It
	// wraps one of the two above, and takes precedence.
	ErrMirrorRequired = errors.New("filter.campaignIds and filter.userId need the mirror, which cannot answer")
)

// ErrorPresenter maps every error a resolver returns to a code in
// extensions.code. Errors it does not know become INTERNAL with a generic
// message; their detail goes to logger, not to the client.
func ErrorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		if gerr.Extensions != nil && gerr.Extensions["code"] != nil {
			return gerr // parse, validation and other gqlgen-coded errors
		}
		code, msg, ext := classify(err)
		if errors.Is(err, model.ErrBadDate) {
			// Input coercion errors carry the argument's path, e.g.
			// [activities filter minDate]: name the argument.
			arg := inputArgument(gerr.Path)
			msg, ext = arg+": "+gerr.Message, map[string]any{"argument": arg}
		}
		if code == CodeInternal {
			logger.ErrorContext(ctx, "internal error", "path", gerr.Path.String(), "err", err.Error())
		}
		if msg != "" {
			gerr.Message = msg
		}
		if gerr.Extensions == nil {
			gerr.Extensions = map[string]any{}
		}
		gerr.Extensions["code"] = code
		for k, v := range ext {
			gerr.Extensions[k] = v
		}
		return gerr
	}
}

// errIntrospectionDisabled is the text of the error gqlgen's executor
// gives for __schema and __type when introspection is off, and
// errFederatedIntrospectionDisabled the one of its federation plugin for
// _service (federation.go) without ServiceSDL; gqlgen has no sentinels for
// them (graphql/execution_context_state.go, v0.17.98).
const (
	errIntrospectionDisabled          = "introspection disabled"
	errFederatedIntrospectionDisabled = "federated introspection disabled"
)

// introspectionDisabled tells whether err, or an error it wraps, is gqlgen's
// introspection-disabled error.
func introspectionDisabled(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if s := err.Error(); s == errIntrospectionDisabled || s == errFederatedIntrospectionDisabled {
			return true
		}
	}
	return false
}

// classify returns an error's code, a message replacing the error's own
// (or "" to keep it), and extra extensions.
func classify(err error) (code, msg string, ext map[string]any) {
	var (
		inputErr  *activityfilter.InputError
		rateErr   *lemlist.RateLimitError
		respErr   *lemlist.ErrorResponse
		decErr    *lemlist.DecodeError
		budgetErr *UpstreamBudgetError

		unsupported *UnsupportedFilterError
	)
	switch {
	case errors.As(err, &budgetErr):
		return CodeUpstreamBudgetExceeded, budgetErr.Error(), map[string]any{"estimate": budgetErr.Estimate, "limit": budgetErr.Limit}
	case errors.As(err, &unsupported):
		return CodeUnsupportedFilter, unsupported.Error(), map[string]any{"argument": unsupported.Arg}
	case errors.Is(err, ErrMirrorRequired):
		return CodeMirrorRequired, err.Error(), nil
	case errors.Is(err, ErrMirrorUnavailable):
		return CodeMirrorUnavailable, err.Error(), nil
	case errors.Is(err, ErrMirrorNotCovered):
		return CodeMirrorNotCovered, err.Error(), nil
	case errors.Is(err, mirror.ErrInvalidQuery):
		return CodeBadUserInput, err.Error(), nil
	case errors.As(err, &inputErr):
		return CodeBadUserInput, inputErr.Error(), map[string]any{"argument": inputErr.Arg}
	case errors.Is(err, model.ErrBadDate):
		return CodeBadUserInput, "", nil // named by the caller
	case errors.As(err, &rateErr):
		secs := math.Ceil(rateErr.RetryAfter.Seconds()*1000) / 1000
		return CodeRateLimited, "lemlist rate limit reached; retry later", map[string]any{"retryAfter": secs}
	case errors.As(err, &respErr):
		switch s := respErr.StatusCode; {
		case s == http.StatusUnauthorized:
			return CodeUnauthenticated, "lemlist rejected the API key: " + respErr.Message, nil
		case s == http.StatusPaymentRequired || s == http.StatusForbidden:
			return CodeForbidden, "lemlist refused: " + respErr.Message, nil
		case s == http.StatusNotFound:
			return CodeNotFound, "lemlist: " + respErr.Message, nil
		case s == http.StatusBadRequest:
			return CodeBadUserInput, "lemlist rejected the request: " + respErr.Message, nil
		case s >= 500:
			return CodeUpstreamUnavailable, "lemlist is unavailable: " + respErr.Message, nil
		}
		return CodeUpstreamUnavailable, "lemlist answered " + http.StatusText(respErr.StatusCode) + ": " + respErr.Message, nil
	case errors.As(err, &decErr):
		return CodeUpstreamUnavailable, "lemlist sent a response that could not be read (" + decErr.Endpoint + ")", nil
	case errors.Is(err, context.DeadlineExceeded):
		return CodeUpstreamUnavailable, "lemlist did not answer in time", nil
	case errors.Is(err, context.Canceled):
		return CodeUpstreamUnavailable, "request cancelled", nil
	case errors.As(err, new(*url.Error)), errors.As(err, new(*net.OpError)):
		return CodeUpstreamUnavailable, "lemlist is unreachable", nil
	case introspectionDisabled(err):
		return CodeForbidden, "introspection is disabled on this server (INTROSPECTION)", nil
	}
	return CodeInternal, "internal error", nil
}

// inputArgument names the argument at the end of an input path: the part
// from the last "filter" on, dotted, e.g. "filter.minDate".
func inputArgument(p ast.Path) string {
	start := 0
	for i := len(p) - 1; i >= 0; i-- {
		if n, ok := p[i].(ast.PathName); ok && n == "filter" {
			start = i
			break
		}
	}
	parts := make([]string, 0, len(p)-start)
	for _, el := range p[start:] {
		parts = append(parts, fmt.Sprint(el))
	}
	return strings.Join(parts, ".")
}
