package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/metrics"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/postgres"
	"github.com/lemlist-graphql/server/mirror/sqlite"
)

// The wiring of what the server keeps: the mirror (MIRROR), with its
// store, the manager of its engines and their metrics, and the
// pass-through webhooks' secrets (WEBHOOK_SECRET, PUBLIC_URL), kept in one
// of the stores the deployment already has. newApp connects the manager to
// the upstream pool, the gateway and the live feed, and passes the secret
// store to the live feed and the registrar to the gateway.

// mirrorOpenTimeout bounds opening and migrating the store at startup.
const mirrorOpenTimeout = 30 * time.Second

// mirrorStore is an opened store, with where it lives for the startup
// log (never a password) and what to remove when it is closed.
type mirrorStore struct {
	store   mirror.Store
	where   string
	cleanup func()
}

// openMirrorStore opens and migrates the store of cfg.Mirror, or a SQLite
// file in a new temporary directory with cfg.MirrorTemp; nil when the
// mirror is off. Any failure is a *configError naming MIRROR: the server
// does not start with a store it cannot open, while a store failing later
// only makes the engines FAILING.
func openMirrorStore(cfg *config) (*mirrorStore, error) {
	ctx, cancel := context.WithTimeout(context.Background(), mirrorOpenTimeout)
	defer cancel()
	switch {
	case cfg.MirrorTemp:
		dir, err := os.MkdirTemp("", "lemlist-graphql-mirror-")
		if err != nil {
			return nil, settingError("mirror", "cannot make the demo's temporary directory: %v", err)
		}
		path := filepath.Join(dir, "mirror.db")
		s, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			os.RemoveAll(dir)
			return nil, settingError("mirror", "%v", err)
		}
		return &mirrorStore{store: s, where: path, cleanup: func() { os.RemoveAll(dir) }}, nil
	case strings.HasPrefix(cfg.Mirror, "sqlite:"):
		path := strings.TrimPrefix(cfg.Mirror, "sqlite:")
		s, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			return nil, settingError("mirror", "cannot open the SQLite mirror (its directory must exist and be writable): %v", err)
		}
		return &mirrorStore{store: s, where: path}, nil
	case cfg.Mirror != "":
		u, err := url.Parse(cfg.Mirror)
		if err != nil { // parseConfig checked it
			return nil, settingError("mirror", "not a PostgreSQL URL")
		}
		s, err := postgres.Open(ctx, cfg.Mirror, postgres.Options{})
		if err != nil {
			// mirror/postgres never quotes the password; this is a second
			// guard, since the message reaches the terminal.
			msg := err.Error()
			if pw, ok := u.User.Password(); ok && pw != "" {
				msg = strings.ReplaceAll(msg, pw, "xxxxx")
			}
			return nil, settingError("mirror", "cannot open the PostgreSQL mirror: %s", msg)
		}
		return &mirrorStore{store: s, where: u.Redacted()}, nil
	}
	return nil, nil
}

// newMirrorManager returns the manager of the engines over ms, from
// cfg's settings; onIngest receives the new activities of every engine
// (the live feed's LiveFeed.Ingested).
func newMirrorManager(cfg *config, ms *mirrorStore, logger *slog.Logger, onIngest func(string, []*lemlist.Activity)) (*mirror.Manager, error) {
	since := cfg.MirrorSinceDate
	if since.IsZero() {
		since = time.Now().Add(-cfg.MirrorSince)
	}
	return mirror.NewManager(ms.store, mirror.ManagerOptions{Engine: mirror.Options{
		ChannelOf: func(typ string) string { return string(model.ChannelOf(typ)) },
		Since:     since,
		// The engine polls the head for the live feed too: at
		// POLL_INTERVAL, or its default when polling is off.
		PollInterval:          cmp.Or(cfg.PollInterval, mirror.DefaultPollInterval),
		ReconcileInterval:     cfg.MirrorReconcileInterval,
		Lookback:              cfg.MirrorLookback,
		FullReconcileInterval: cfg.MirrorFullReconcile,
		LeaseTTL:              cfg.MirrorLeaseTTL,
		Holder:                holderName(),
		// The key's low-priority lane: interactive queries go first, and
		// the sync never takes the slots they keep in reserve.
		Background: func(ctx context.Context) context.Context {
			return lemlist.Background(lemlist.WithCaller(ctx, "mirror"))
		},
		OnIngest: onIngest,
		Logger:   logger,
	}})
}

// holderName names this process to a store shared by replicas (its
// leases): the host name and a random suffix, new at each start.
func holderName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", cmp.Or(host, "replica"), os.Getpid(), hex.EncodeToString(b[:]))
}

// mirrorStatsTimeout bounds the store reads of one metrics scrape.
const mirrorStatsTimeout = 5 * time.Second

// mirrorStats reads every engine's status for the metrics.
func mirrorStats(m *mirror.Manager) metrics.MirrorStats {
	ctx, cancel := context.WithTimeout(context.Background(), mirrorStatsTimeout)
	defer cancel()
	s := metrics.MirrorStats{BackfillProgress: 1, States: map[string]int{}}
	for _, e := range m.Engines() {
		st, _ := e.Status(ctx) // a store failure: the engine's own state says so
		s.Activities += st.Activities
		s.LagSeconds = max(s.LagSeconds, st.Lag.Seconds())
		s.BackfillProgress = min(s.BackfillProgress, st.BackfillProgress)
		s.States[string(st.State)]++
	}
	c := m.Counters()
	s.SyncCalls, s.RowsWritten, s.ReconcileAdded, s.ReconcileRemoved, s.Failures = c.Calls, c.RowsWritten, c.ReconcileAdded, c.ReconcileRemoved, c.Failures
	return s
}

// mirrorStates are the states mirror_tenants has a series for.
var mirrorStates = []string{string(mirror.StateBackfilling), string(mirror.StateLive), string(mirror.StateFailing)}

// The parsers of the mirror's settings (config.go's table).

// mirrorVar takes MIRROR: off, auto, sqlite:PATH, or a postgres:// or
// postgresql:// URL. Its errors never quote the value, which may hold a
// password.
func mirrorVar(p *string) func(string) error {
	return func(v string) error {
		v = strings.TrimSpace(v)
		switch low := strings.ToLower(v); {
		case low == "off" || low == "auto":
			*p = low
		case strings.HasPrefix(v, "sqlite:"):
			if strings.TrimPrefix(v, "sqlite:") == "" {
				return errors.New("sqlite: needs a file, such as sqlite:/var/lib/lemlist-graphql/mirror.db")
			}
			*p = v
		case strings.HasPrefix(low, "postgres://") || strings.HasPrefix(low, "postgresql://"):
			if u, err := url.Parse(v); err != nil || u.Host == "" {
				return errors.New("not a PostgreSQL URL such as postgres://user:password@host:5432/db")
			}
			*p = v
		default:
			return errors.New("not off, auto, sqlite:PATH or a postgres:// URL")
		}
		return nil
	}
}

// parseDays parses a Go duration, or a whole number of days with a d
// suffix (365d).
func parseDays(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*366 {
			return 0, fmt.Errorf("%q is not a number of days such as 7d", v)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 7d, 24h or 10m", v)
	}
	return d, nil
}

// dayDurVar takes a positive duration: a Go duration or days (7d).
func dayDurVar(p *time.Duration) func(string) error {
	return func(v string) error {
		d, err := parseDays(strings.TrimSpace(v))
		if err != nil {
			return err
		}
		if d <= 0 {
			return fmt.Errorf("%q is not positive", v)
		}
		*p = d
		return nil
	}
}

// sinceVar takes a positive duration back from now (365d, 8760h) into d,
// or a date in the past (2025-01-31, or RFC 3339) into date.
func sinceVar(d *time.Duration, date *time.Time) func(string) error {
	return func(v string) error {
		v = strings.TrimSpace(v)
		for _, layout := range []string{time.DateOnly, time.RFC3339Nano} {
			if t, err := time.Parse(layout, v); err == nil {
				if !t.Before(time.Now()) {
					return fmt.Errorf("%q is in the future", v)
				}
				*d, *date = 0, t.UTC()
				return nil
			}
		}
		dur, err := parseDays(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 365d or a date such as 2025-01-31", v)
		}
		if dur <= 0 {
			return fmt.Errorf("%q is not positive", v)
		}
		*d, *date = dur, time.Time{}
		return nil
	}
}

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
			opts := []lemlist.Option{
				lemlist.WithHTTPClient(hc), lemlist.WithUserAgent("lemlist-graphql/register"),
				lemlist.WithLimiter(a.pool.Limiter(key)), lemlist.WithObserver(a.metrics),
			}
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
