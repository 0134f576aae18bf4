package gateway

import (
	"net/http"

	"github.com/lemlist-graphql/server/feed"
)

// Pass-through tenants register their own hooks: POST
// /webhooks/lemlist/register with their lemlist key (feed.Registrar, which
// cmd/lemlist-hook register -passthrough calls). The server checks the
// key with lemlist, keeps a random secret for the key's tenant in a
// persistent store, and registers the hook at
// /webhooks/lemlist/<tenant>; the tenant's webhook calls must then carry
// that secret (LiveFeedOptions.Secrets), and the one derived from
// WEBHOOK_SECRET is refused. The route, like the webhook's, takes no
// GraphQL steps but the request log: the key is checked by lemlist
// itself, before anything is stored.

// mountRegistrar adds the registration route to mux, with the request
// log, when the server registers hooks (Options.Registration).
func (g *Gateway) mountRegistrar(mux *http.ServeMux) {
	if g.hooks == nil {
		return
	}
	mux.Handle(http.MethodPost+" "+feed.RegisterPath, g.observe(g.hooks.Handler()))
}
