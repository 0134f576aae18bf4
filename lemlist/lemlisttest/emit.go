package lemlisttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// EmitOptions configure Server.StartEmitting.
type EmitOptions struct {
	// Tenant names the tenant that gets the activities; empty means
	// DefaultTenant.
	Tenant string
	// Interval is the time between two ticks; zero means 3 s.
	Interval time.Duration
	// PerTick is how many random activities each tick inserts (see
	// Tenant.InsertActivities); zero means 1.
	PerTick int
	// WebhookURL, when set, is called for each new activity, oldest first,
	// as lemlist's webhooks call their targetUrl: a POST whose
	// application/json body is the activity object as GET /activities
	// serves it, plus a "secret" field holding Secret (sent even when
	// empty, as "").
	WebhookURL string
	Secret     string
	// HTTPClient makes the webhook calls; nil means a client with a 5 s
	// timeout.
	HTTPClient *http.Client
	// OnTick, when set, is told each tick's activities, newest first, and
	// the first failed webhook call of the tick (a transport error or a
	// non-2xx answer), after the tick's calls are done. Calls are not
	// retried: lemlist documents no retry policy.
	OnTick func(acts []Activity, err error)
}

// StartEmitting makes the fake's data move: every Interval it inserts
// PerTick activities into the tenant (each one second after the newest, as
// Insert does) and, with a WebhookURL, posts each one to it. It runs until
// ctx is done or stop is called; stop waits for the tick in progress, its
// webhook calls included, and may be called more than once. It panics on
// an unknown tenant.
func (s *Server) StartEmitting(ctx context.Context, o EmitOptions) (stop func()) {
	name := o.Tenant
	if name == "" {
		name = DefaultTenant
	}
	t := s.Tenant(name)
	if t == nil {
		panic(fmt.Sprintf("lemlisttest: StartEmitting: unknown tenant %q", name))
	}
	if o.Interval <= 0 {
		o.Interval = 3 * time.Second
	}
	if o.PerTick <= 0 {
		o.PerTick = 1
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	// stop ends the loop; a tick in progress finishes its webhook calls,
	// which only the caller's ctx (or the client's timeout) cuts short.
	reqCtx := ctx
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(o.Interval)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			acts := t.InsertActivities(o.PerTick)
			var first error
			if o.WebhookURL != "" {
				for i := len(acts) - 1; i >= 0; i-- {
					if err := postHook(reqCtx, o, acts[i]); err != nil && first == nil {
						first = err
					}
				}
			}
			if o.OnTick != nil {
				o.OnTick(acts, first)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

// postHook posts a to the webhook URL with the secret, as lemlist does.
func postHook(ctx context.Context, o EmitOptions, a Activity) error {
	obj := a.JSON()
	body := make([]byte, 0, len(obj)+len(o.Secret)+16)
	body = append(body, obj[:len(obj)-1]...) // without the closing brace
	if len(obj) > 2 {
		body = append(body, ',')
	}
	body = append(body, `"secret":`...)
	sec, _ := json.Marshal(o.Secret) // any string, invalid UTF-8 included
	body = append(body, sec...)
	body = append(body, '}')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lemlisttest-webhook")
	resp, err := o.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("lemlisttest: webhook %s answered %s", a.ID, resp.Status)
	}
	return nil
}
