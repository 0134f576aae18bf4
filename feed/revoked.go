package feed

import (
	"errors"
	"net/http"

	"github.com/lemlist-graphql/server/lemlist"
)

// ErrUnauthorized ends the subscriptions of a poller whose call lemlist
// refused with 401: the tenant's key was revoked (a team rotating a leaked
// key), or never was valid. Polling stops with them; the hub's other
// pollers, the tenant's included, carry on until their own 401.
var ErrUnauthorized = errors.New("lemlist rejected the API key: the live feed ended; subscribe again with a valid key")

// unauthorized reports whether err is lemlist's 401.
func unauthorized(err error) bool {
	e, ok := errors.AsType[*lemlist.ErrorResponse](err)
	return ok && e.StatusCode == http.StatusUnauthorized
}

// endPoller ends every subscription of p with err. The end of the last
// one stops p and forgets it (Hub.remove), so that a later subscription
// starts a poller of its own; a subscription that joins p meanwhile is
// ended too.
func (h *Hub) endPoller(p *poller, err error) {
	for {
		h.mu.Lock()
		subs := p.subs
		h.mu.Unlock()
		if len(subs) == 0 {
			return
		}
		for _, s := range subs {
			s.end(err)
		}
	}
}
