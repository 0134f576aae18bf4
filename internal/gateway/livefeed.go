package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/graph"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/metrics"
	"github.com/lemlist-graphql/server/mirror"
)

// The live feed: Subscription.activityAdded over the websocket and SSE
// transports, fed by polling (POLL_INTERVAL) and by lemlist's webhooks
// (WEBHOOK_SECRET, POST /webhooks/lemlist). See package feed for the hub;
// this file is its HTTP side and its wiring to the tenants of auth.go.

// Webhook routes. In pass-through mode, where each client brings its own
// lemlist key, the URL names the tenant: {tenant} is upstream.TenantID of
// the key (cmd/lemlist-hook computes it), and the secret lemlist must echo
// is feed.TenantSecret(WEBHOOK_SECRET, tenant).
const (
	webhookPattern          = "POST /webhooks/lemlist"
	webhookTenantPattern    = "POST /webhooks/lemlist/{tenant}"
	demoEmitInterval        = 3 * time.Second
	minWebhookSecretLength  = 16
	defaultWebhookBodyLimit = 1 << 20
)

// LiveFeedOptions are the settings the live feed needs.
type LiveFeedOptions struct {
	// PerTenant is pass-through mode: each client brings its own key, and
	// webhook URLs name their tenant.
	PerTenant bool
	// Demo makes up a webhook secret when WebhookSecret is empty, for the
	// demo's fake to call the server's own webhook (StartDemo).
	Demo          bool
	PollInterval  time.Duration // 0 turns polling off
	WebhookSecret string        // "" turns webhooks off, except with Demo
	MaxBodyBytes  int64         // of a webhook call; 0 means 1 MiB
	Logger        *slog.Logger
	Metrics       *metrics.Metrics // nil: no gauges
	// Buffer bounds each subscription's queue (feed.Options.Buffer): a
	// subscriber that many activities behind is dropped with
	// SUBSCRIBER_TOO_SLOW. 0 means feed.DefaultBuffer.
	Buffer int
	// Relay passes webhook activities to the other replicas and back
	// (REDIS_URL), and with Mirror the rows this replica's mirror stored
	// first (storedrelay.go); nil: this replica's webhooks and mirror
	// reach its subscribers only.
	Relay FeedRelay
	// ServerTenant is the upstream.TenantID of the server's key in server
	// and demo modes: the topic of their webhooks between replicas, so
	// that deployments with different keys sharing a Redis stay apart.
	ServerTenant string
	// Mirror, when set (MIRROR), is the one source of new activities of
	// the tenants it mirrors: webhooks (this replica's, and those relayed
	// from the others) go into their engine's Ingest, the engine's
	// mirror.Options.OnIngest must call Ingested, which publishes the new
	// rows here and, with Relay, on every other replica, and their
	// subscriptions start no poller (the engine polls the head). Tenants
	// it does not mirror (pass-through tenants beyond its cap) are fed as
	// without it.
	Mirror *mirror.Manager
	// Secrets, in pass-through mode, holds each tenant's random webhook
	// secret (register.go): calls must carry it, and the secret derived
	// from WebhookSecret is refused. Nil keeps that deprecated derived
	// secret (feed.TenantSecret).
	Secrets feed.SecretStore
}

// FeedRelay carries activities between replicas: *redisx.Redis, over
// Redis pub/sub. A process never receives its own messages.
type FeedRelay interface {
	// Publish sends payload to the other replicas on topic.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe calls handle with the other replicas' messages until stop.
	Subscribe(ctx context.Context, handle func(topic string, payload []byte)) (stop func())
}

// LiveFeed is the wired live feed: the hub, its webhook handler, and in
// demo mode the fake's emitter. Its methods accept a nil receiver (no live
// feed), so the server works without it.
type LiveFeed struct {
	hub     *feed.Hub
	webhook http.Handler // nil without a secret
	pattern string
	secret  string
	logger  *slog.Logger
	// perTenant is pass-through mode: webhooks name their tenant.
	perTenant bool
	// emitInterval is the demo emitter's tick (demoEmitInterval).
	emitInterval time.Duration

	relay        FeedRelay // nil without Redis
	serverTenant string
	mirror       *mirror.Manager // nil when off
	stopRelay    func()
	stored       *storedRelay // the mirror's new rows to the other replicas; nil without relay or mirror

	mu       sync.Mutex
	stopEmit func()
}

// NewLiveFeed builds the live feed of o. Close ends it.
func NewLiveFeed(o LiveFeedOptions) (*LiveFeed, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = defaultWebhookBodyLimit
	}
	interval := o.PollInterval
	if interval <= 0 {
		interval = -1 // the hub's "off"
	}
	fo := feed.Options{PollInterval: interval, Buffer: o.Buffer, Logger: o.Logger}
	if !o.PerTenant {
		// One tenant: its share is the whole feed.
		fo.MaxSubscriptionsPerTenant = feed.DefaultMaxSubscriptions
	}
	l := &LiveFeed{
		hub:     feed.NewHub(fo),
		pattern: webhookPattern,
		secret:  o.WebhookSecret,
		logger:  o.Logger,

		perTenant:    o.PerTenant,
		emitInterval: demoEmitInterval,
		relay:        o.Relay,
		serverTenant: o.ServerTenant,
		mirror:       o.Mirror,
	}
	if l.secret == "" && o.Demo {
		var b [16]byte
		_, _ = rand.Read(b[:])
		l.secret = hex.EncodeToString(b[:])
	}
	if l.secret != "" {
		if len(l.secret) < minWebhookSecretLength {
			l.hub.Close()
			return nil, errors.New("invalid WEBHOOK_SECRET: must be at least 16 characters")
		}
		if l.perTenant {
			l.pattern = webhookTenantPattern
		}
		wo := feed.WebhookOptions{Secret: l.secret, PerTenant: l.perTenant, MaxBodyBytes: o.MaxBodyBytes}
		if l.perTenant {
			wo.Secrets = o.Secrets
		}
		if l.relay != nil {
			wo.Relay = l.forward
		}
		if l.mirror != nil {
			wo.Ingest = l.ingest
		}
		wh, err := l.hub.Webhook(wo)
		if err != nil {
			l.hub.Close()
			return nil, err
		}
		l.webhook = wh
	}
	if l.relay != nil {
		if l.mirror != nil {
			l.stored = newStoredRelay(l.relay, l.logger)
		}
		l.stopRelay = l.relay.Subscribe(context.Background(), l.receive)
	}
	if m := o.Metrics; m != nil {
		m.GaugeFunc("feed_subscriptions", "Live subscriptions (activityAdded).", func() float64 {
			return float64(l.hub.Stats().Subscriptions)
		})
		m.GaugeFunc("feed_pollers", "Live feed pollers: one per API key and upstream filter subscribed to.", func() float64 {
			return float64(l.hub.Stats().Pollers)
		})
		m.CounterFunc("feed_polls_continued_total", "Live feed polls that stopped at their page bound and went on at the next tick.", func() float64 {
			return float64(l.hub.Stats().PollsContinued)
		})
		m.CounterFunc("feed_webhooks_replayed_total", "Webhook calls dropped because their activity was handled within the replay window.", func() float64 {
			return float64(l.hub.Stats().WebhooksReplayed)
		})
		m.CounterFunc("feed_webhooks_relay_failed_total", "Webhook calls answered 503 because the other replicas could not be told (Redis down).", func() float64 {
			return float64(l.hub.Stats().WebhooksRelayFailed)
		})
		if l.stored != nil {
			m.CounterFunc("feed_stored_relay_dropped_total", "Activities new to the mirror that could not be passed to the other replicas' subscribers (Redis down, or a full queue).", func() float64 {
				return float64(l.stored.dropped.Load())
			})
		}
	}
	return l, nil
}

// forward passes an activity a webhook brought to the other replicas. A
// failure (Redis down) fails the webhook call with a 503, so that lemlist
// calls again.
func (l *LiveFeed) forward(ctx context.Context, tenant string, activity []byte) error {
	return l.relay.Publish(ctx, l.topic(tenant), activity)
}

// receive delivers an activity another replica's webhook brought, or the
// rows another replica's mirror stored (receiveStored).
func (l *LiveFeed) receive(topic string, payload []byte) {
	topic, stored := storedTopic(topic)
	tenant, ok := l.tenantOf(topic)
	if !ok {
		return // another deployment's, or another key's
	}
	if stored {
		l.receiveStored(tenant, payload)
		return
	}
	a, err := feed.DecodeActivity(payload)
	if err != nil {
		l.logger.Warn("live feed: dropped an activity from another replica", "error", err.Error())
		return
	}
	if !l.ingest(context.Background(), tenant, a) {
		l.hub.Publish(tenant, a)
	}
}

// engine returns the mirror's engine of a hub tenant, nil when the mirror
// does not serve it.
func (l *LiveFeed) engine(tenant string) *mirror.Engine {
	if l.mirror == nil {
		return nil
	}
	return l.mirror.For(l.topic(tenant))
}

// ingest hands an activity a webhook brought to the mirror of the hub
// tenant tenant, which publishes it through Ingested if it is new. It
// reports false when the mirror does not serve the tenant or failed to
// store it (a broken store: the caller publishes it, and the engine's
// status says FAILING).
func (l *LiveFeed) ingest(ctx context.Context, tenant string, a *lemlist.Activity) bool {
	e := l.engine(tenant)
	if e == nil {
		return false
	}
	return e.Ingest(ctx, []*lemlist.Activity{a}) == nil
}

// Ingested publishes the activities that the mirror of tenant (a
// upstream.TenantID, as the mirror names it) stored for the first time,
// oldest first, to this replica's subscribers and, with a Relay, to the
// other replicas' (storedrelay.go): it is the mirror.Options.OnIngest of
// the server's engines. It never blocks.
func (l *LiveFeed) Ingested(tenant string, acts []*lemlist.Activity) {
	if l == nil {
		return
	}
	hubTenant, ok := l.tenantOf(tenant)
	if !ok {
		return
	}
	for _, a := range acts {
		l.hub.Publish(hubTenant, a)
	}
	if l.stored != nil {
		l.stored.send(l.topic(hubTenant), acts)
	}
}

// topic is the pub/sub topic of a hub tenant: the tenant id itself in
// pass-through mode, the server key's otherwise (whose hub tenant is "").
func (l *LiveFeed) topic(tenant string) string {
	if l.perTenant {
		return tenant
	}
	return l.serverTenant
}

// tenantOf is the inverse of topic: the hub tenant of a topic, and
// whether it is one of this replica's.
func (l *LiveFeed) tenantOf(topic string) (string, bool) {
	if l.perTenant {
		return topic, topic != ""
	}
	return "", topic == l.serverTenant && topic != ""
}

// resolverFeed returns the resolver's view of the feed: the hub bound to
// each request's tenant.
func (l *LiveFeed) resolverFeed(keys *keyVerdicts) graph.Feed {
	if l == nil {
		return nil
	}
	return tenantFeed{hub: l.hub, perTenant: l.perTenant, keys: keys, mirror: l.mirror}
}

// Hub returns the live feed's hub (nil without a live feed), whose Stats
// the feed's metrics read; tests also Publish to it, as a webhook does.
func (l *LiveFeed) Hub() *feed.Hub {
	if l == nil {
		return nil
	}
	return l.hub
}

// mount adds the webhook route to mux, each request wrapped by wrap (the
// request log), unless webhooks are off.
func (l *LiveFeed) mount(mux *http.ServeMux, wrap func(http.Handler) http.Handler) {
	if l == nil || l.webhook == nil {
		return
	}
	mux.Handle(l.pattern, wrap(l.webhook))
}

// StartDemo makes the demo's feed move: the fake inserts an activity
// every 3 s and posts it to the server's own webhook at baseURL (its root,
// e.g. http://127.0.0.1:8080).
func (l *LiveFeed) StartDemo(fake *lemlisttest.Server, baseURL string) {
	if l == nil || fake == nil || l.webhook == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopEmit != nil {
		return
	}
	l.stopEmit = fake.StartEmitting(context.Background(), lemlisttest.EmitOptions{
		Interval:   l.emitInterval,
		WebhookURL: strings.TrimSuffix(baseURL, "/") + "/webhooks/lemlist",
		Secret:     l.secret,
		OnTick: func(_ []lemlisttest.Activity, err error) {
			if err != nil {
				l.logger.Warn("demo: the fake's webhook call failed", "error", err.Error())
			}
		},
	})
}

// Close stops the demo's emitter and ends every subscription (SSE streams
// then finish, so that a graceful shutdown need not wait for them). It is
// idempotent.
func (l *LiveFeed) Close() {
	if l == nil {
		return
	}
	l.mu.Lock()
	stop := l.stopEmit
	l.mu.Unlock()
	if stop != nil {
		stop()
	}
	if l.stopRelay != nil {
		l.stopRelay()
	}
	if l.stored != nil {
		l.stored.stop()
	}
	l.hub.Close()
}

// tenantFeed subscribes the tenant the request authenticated as (auth.go):
// its upstream for the pollers (the pool's, with its limiter and cache, not
// the request's call-counting wrapper: a poller outlives the request that
// started it), and, in pass-through mode, its id, which webhook URLs name.
// Server and demo modes have one tenant, the hub's "", which
// POST /webhooks/lemlist publishes to.
type tenantFeed struct {
	hub       *feed.Hub
	perTenant bool
	keys      *keyVerdicts    // renewed by the pollers of pass-through keys
	mirror    *mirror.Manager // nil when off
}

func (f tenantFeed) Subscribe(ctx context.Context, filter feed.Filter) (*feed.Subscription, error) {
	t := tenantFrom(ctx)
	if t == nil {
		return nil, errors.New("live feed: no tenant in the context")
	}
	id, up := "", t.Upstream
	if f.perTenant {
		id = t.ID
	}
	switch {
	case f.mirror != nil && f.mirror.For(t.ID) != nil:
		up = nil // the mirror's engine polls the head and publishes (Ingested)
	case t.verify && f.keys != nil:
		up = verdictUpstream{Upstream: up, v: f.keys, tenant: t.ID}
	}
	return f.hub.Subscribe(ctx, feed.Tenant{ID: id, Upstream: up}, filter)
}
