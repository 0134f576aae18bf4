package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/upstream"
)

// realm is the realm of every WWW-Authenticate challenge.
const realm = `realm="lemlist-graphql"`

// Tenant is who a request runs as: the upstream of one lemlist key.
type Tenant struct {
	// Upstream is the key's upstream, with its limiter and cache.
	Upstream upstream.Upstream
	// ID is upstream.TenantID of the key: opaque, safe to log. It keys
	// the response cache, names the tenant to the loaders and the stats
	// cache ("server" when empty), and in pass-through mode to the log
	// line and the live feed's webhook URLs.
	ID string
	// verify is set for pass-through keys, which lemlist must accept
	// before anything is served to them (keycheck.go).
	verify bool
	// client names the client among those sharing the tenant's key: the
	// number of its token in server mode, "" where the tenant is the
	// client (pass-through and open modes).
	client string
}

// caller is the rate limiter's caller key of the tenant's operations
// (lemlist.WithCaller): the per-key limiter shares its slots round-robin
// between clients, so that one client's parallel operations cannot
// starve the others sharing the key. All of a client's operations, and
// all of a pass-through tenant's, are one caller.
func (t *Tenant) caller() string {
	switch {
	case t.client != "":
		return t.client
	case t.ID != "":
		return "tenant:" + t.ID
	}
	return "open"
}

// authError is a refused request; its message is safe to show the client
// and never quotes a credential.
type authError struct {
	msg string
	// invalid is set when credentials were presented but are wrong.
	invalid bool
}

func (e *authError) Error() string { return e.msg }

// Authenticator decides who may query, and with which lemlist key:
// OpenAuth, TokenAuth or PassthroughAuth.
type Authenticator interface {
	// authenticate returns the tenant of a request whose Authorization
	// header is authorization ("" when absent).
	authenticate(authorization string) (*Tenant, *authError)
	// challenge returns the WWW-Authenticate header of a 401 for err.
	challenge(err *authError) string
	// String names the scheme in the startup log.
	String() string
}

// OpenAuth lets everyone in as t: demo mode, and server mode on loopback
// without tokens (or with ALLOW_UNAUTHENTICATED).
func OpenAuth(t *Tenant) Authenticator { return openAuth{t: t} }

type openAuth struct{ t *Tenant }

func (a openAuth) authenticate(string) (*Tenant, *authError) { return a.t, nil }
func (openAuth) challenge(*authError) string                 { return "" }
func (openAuth) String() string                              { return "open" }

// TokenAuth admits requests bearing one of tokens, all as t: server mode
// with GRAPHQL_TOKENS. Tokens are held as SHA-256 hashes, so that every
// comparison takes the same time whatever the token's length, and each
// request is compared with every token (no early exit).
func TokenAuth(t *Tenant, tokens []string) Authenticator { return newTokenAuth(t, tokens) }

type tokenAuth struct {
	hashes  [][sha256.Size]byte
	tenants []*Tenant // per token: t, as that token's client
}

func newTokenAuth(t *Tenant, tokens []string) *tokenAuth {
	a := &tokenAuth{}
	for i, tok := range tokens {
		a.hashes = append(a.hashes, sha256.Sum256([]byte(tok)))
		a.tenants = append(a.tenants, &Tenant{Upstream: t.Upstream, ID: t.ID, client: "token:" + strconv.Itoa(i+1)})
	}
	return a
}

func (a *tokenAuth) authenticate(h string) (*Tenant, *authError) {
	tok, ok := bearer(h)
	if !ok {
		return nil, &authError{msg: "missing credentials: send Authorization: Bearer <token>"}
	}
	sum := sha256.Sum256([]byte(tok))
	match, which := 0, 0
	for i := range a.hashes {
		eq := subtle.ConstantTimeCompare(sum[:], a.hashes[i][:])
		match |= eq
		which = subtle.ConstantTimeSelect(eq, i, which)
	}
	if match != 1 {
		return nil, &authError{msg: "invalid token", invalid: true}
	}
	return a.tenants[which], nil
}

func (a *tokenAuth) challenge(err *authError) string {
	if err != nil && err.invalid {
		return `Bearer ` + realm + `, error="invalid_token"`
	}
	return `Bearer ` + realm
}

func (*tokenAuth) String() string { return "tokens" }

// PassthroughAuth runs each request on the lemlist key it carries, through
// pool's upstream of that key (its own limiter and cache partition).
// A wrong key is only found out by lemlist: every operation checks the key
// first (keycheck.go), and a key lemlist rejects gets UNAUTHENTICATED.
func PassthroughAuth(pool *upstream.Pool) Authenticator { return passthroughAuth{pool: pool} }

type passthroughAuth struct{ pool *upstream.Pool }

func (a passthroughAuth) authenticate(h string) (*Tenant, *authError) {
	key := lemlistKey(h)
	if key == "" {
		return nil, &authError{msg: "missing lemlist API key: send Authorization: Basic base64(\":KEY\") as lemlist does, or Authorization: Bearer KEY"}
	}
	up, err := a.pool.For(key)
	if err != nil {
		// The pool's errors never contain the key.
		return nil, &authError{msg: "unusable lemlist API key", invalid: true}
	}
	return &Tenant{Upstream: up, ID: upstream.TenantID(key), verify: true}, nil
}

func (passthroughAuth) challenge(*authError) string {
	return `Basic ` + realm + `, Bearer ` + realm
}

func (passthroughAuth) String() string { return "passthrough" }

// bearer returns the token of an "Authorization: Bearer <token>" value.
func bearer(h string) (string, bool) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	tok := strings.TrimSpace(rest)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

// lemlistKey returns the lemlist key of an Authorization value: the
// password of Basic credentials (lemlist's own form, base64(":KEY"), with
// any username), or a Bearer token. It returns "" when there is none.
func lemlistKey(h string) string {
	if tok, ok := bearer(h); ok {
		return tok
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Basic") {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return ""
	}
	_, key, ok := strings.Cut(string(raw), ":")
	if !ok {
		return ""
	}
	return key
}

type tenantKey struct{}

func withTenant(ctx context.Context, t *Tenant) context.Context {
	return context.WithValue(ctx, tenantKey{}, t)
}

func tenantFrom(ctx context.Context) *Tenant {
	t, _ := ctx.Value(tenantKey{}).(*Tenant)
	return t
}

// authenticate answers 401 to requests the authenticator refuses, and
// passes the others on with their tenant in the context. A websocket
// upgrade without an Authorization header (browsers cannot set one) goes
// on unauthenticated: its connection_init payload is checked by wsInit.
func (g *Gateway) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		t, err := g.o.Auth.authenticate(h)
		if err != nil {
			if h == "" && isWebsocket(r) {
				next.ServeHTTP(w, r)
				return
			}
			if c := g.o.Auth.challenge(err); c != "" {
				w.Header().Set("WWW-Authenticate", c)
			}
			writeError(w, r, http.StatusUnauthorized, graph.CodeUnauthenticated, err.msg)
			return
		}
		if info := infoFrom(r.Context()); info != nil && g.o.LogTenant {
			info.tenant = t.ID
		}
		next.ServeHTTP(w, r.WithContext(withTenant(r.Context(), t)))
	})
}

// errWSUnauthenticated closes a websocket whose connection_init carried no
// valid credentials.
var errWSUnauthenticated = errors.New("unauthenticated: send authorization in the connection_init payload")

// wsInit authenticates a websocket from its connection_init payload's
// authorization entry, unless its upgrade request was authenticated.
// It also gives the connection its cap of live subscriptions
// (feed.ConnectionLimit: a websocket carries any number of subscribe
// messages).
func (g *Gateway) wsInit(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	ctx = feed.WithConnectionLimit(ctx, feed.NewConnectionLimit(g.o.MaxSubscriptionsPerConnection))
	if tenantFrom(ctx) != nil {
		return ctx, nil, nil
	}
	t, err := g.o.Auth.authenticate(p.Authorization())
	if err != nil {
		return ctx, nil, errWSUnauthenticated
	}
	return withTenant(ctx, t), nil, nil
}
