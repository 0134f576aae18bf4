package main

import (
	"net/http"
	"strings"

	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/mirror"
)

// The webhooks' wiring in pass-through mode (WEBHOOK_SECRET, PUBLIC_URL):
// where each tenant's random webhook secret is kept, and the registration
// of tenants' hooks (feed.Registrar). newApp passes the store to the live
// feed and the registrar to the gateway.

// webhookStore is where pass-through tenants' webhook secrets are kept.
type webhookStore struct {
	backend feed.SecretBackend
	where   string // for the startup log
}

// pickWebhookStore returns the persistent store of pass-through webhook
// secrets, among the stores the deployment already has, or nil for none:
// a store the replicas share first (the PostgreSQL mirror, then Redis),
// so that a hook registered through one replica is checked by every one,
// and only then the SQLite mirror, which one process owns. The PostgreSQL
// mirror goes before Redis because it is durable, while Redis may be run
// without persistence or evict.
func pickWebhookStore(ms *mirrorStore, redis feed.SecretBackend) *webhookStore {
	var local *webhookStore
	if ms != nil {
		if b, ok := ms.store.(feed.SecretBackend); ok {
			s := &webhookStore{backend: b, where: "the mirror's store (" + ms.where + ")"}
			if _, shared := ms.store.(mirror.Leaser); shared {
				return s
			}
			local = s
		}
	}
	if redis != nil {
		return &webhookStore{backend: redis, where: "Redis"}
	}
	return local
}

// webhooks returns the pass-through webhooks' secret store and the
// settings of their registrar (gateway.Options.Registration), each nil
// when off, and logs how webhooks are checked. base is lemlist's
// API root ("" for lemlist's own), hc the upstream HTTP client.
func (a *app) webhooks(cfg *config, base string, hc *http.Client) (feed.SecretStore, *feed.RegistrarOptions, error) {
	log := a.logger
	if cfg.Mode != modePassthrough || cfg.WebhookSecret == "" {
		if cfg.PublicURL != "" {
			log.Warn("PUBLIC_URL is unused: hooks are registered through the server only in passthrough mode with WEBHOOK_SECRET")
		}
		return nil, nil, nil
	}
	var redis feed.SecretBackend
	if a.redis != nil {
		redis = a.redis
	}
	ws := pickWebhookStore(a.mstore, redis)
	if ws == nil {
		log.Warn("webhooks: deprecated per-tenant secrets derived from WEBHOOK_SECRET: whoever holds it can forge activities into any tenant's feed; set MIRROR or REDIS_URL (a store for random per-tenant secrets) and PUBLIC_URL, and register hooks again with lemlist-hook register -passthrough")
		if cfg.PublicURL != "" {
			log.Warn("PUBLIC_URL is unused: registering hooks needs a store for the tenants' secrets (MIRROR or REDIS_URL)")
		}
		return nil, nil, nil
	}
	store, err := feed.SealedSecrets(ws.backend, cfg.WebhookSecret)
	if err != nil {
		return nil, nil, err
	}
	if cfg.PublicURL == "" {
		log.Warn("webhooks: each tenant's secret is random and kept sealed, but PUBLIC_URL is not set: tenants cannot register hooks through the server", "store", ws.where)
		return store, nil, nil
	}
	reg := &feed.RegistrarOptions{
		Secrets: store, BaseURL: cfg.PublicURL, Logger: log,
		Hooks: func(key string) (feed.HookService, error) {
			opts := []lemlist.Option{lemlist.WithHTTPClient(hc), lemlist.WithUserAgent("lemlist-graphql/register")}
			if base != "" {
				opts = append(opts, lemlist.WithBaseURL(base))
			}
			c, err := lemlist.NewClient(key, opts...)
			if err != nil {
				return nil, err
			}
			return c.Hooks, nil
		},
	}
	log.Info("webhooks: each tenant's secret is random and kept sealed; tenants register hooks with their key at POST "+feed.RegisterPath,
		"store", ws.where, "hooks", strings.TrimSuffix(cfg.PublicURL, "/")+feed.WebhookPath+"/<tenant>")
	return store, reg, nil
}
