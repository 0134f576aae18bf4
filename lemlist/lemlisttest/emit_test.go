package lemlisttest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

func TestStartEmitting(t *testing.T) {
	srv := lemlisttest.NewServer(lemlisttest.Options{RateLimit: lemlisttest.NoRateLimit, Dataset: lemlisttest.DatasetOptions{Seed: 3, Activities: 50}})
	defer srv.Close()

	var mu sync.Mutex
	var posted []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &m) != nil {
			t.Errorf("webhook call %s %s: %s", r.Method, r.Header.Get("Content-Type"), b)
		}
		mu.Lock()
		posted = append(posted, m)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()

	ticks := make(chan []lemlisttest.Activity, 100)
	stop := srv.StartEmitting(context.Background(), lemlisttest.EmitOptions{
		Interval: 5 * time.Millisecond, PerTick: 2,
		WebhookURL: hook.URL, Secret: `s"cret`,
		OnTick: func(acts []lemlisttest.Activity, err error) {
			if err != nil {
				t.Errorf("tick: %v", err)
			}
			ticks <- acts
		},
	})
	var emitted []lemlisttest.Activity
	for len(emitted) < 6 {
		emitted = append(emitted, <-ticks...)
	}
	stop()
	stop() // idempotent
	close(ticks)
	for acts := range ticks { // a tick that ended while stopping
		emitted = append(emitted, acts...)
	}
	if n := srv.Tenant(lemlisttest.DefaultTenant).Len(); n != 50+len(emitted) {
		t.Fatalf("%d activities, want %d", n, 50+len(emitted))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posted) != len(emitted) {
		t.Fatalf("%d webhook calls for %d activities", len(posted), len(emitted))
	}
	// Each tick posts oldest first; each body is the served object plus
	// the secret.
	page, _, err := srv.Client().Activities.List(context.Background(), &lemlist.ActivityListOptions{Limit: len(emitted)})
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range posted {
		want := page[len(page)-1-i]
		if m["_id"] != want.ID || m["secret"] != `s"cret` || m["type"] != want.Type {
			t.Errorf("call %d: %v, want %s", i, m, want.ID)
		}
		var served map[string]any
		_ = json.Unmarshal(want.Raw, &served)
		if len(m) != len(served)+1 {
			t.Errorf("call %d has %d fields, want the %d served plus secret", i, len(m), len(served))
		}
	}
}

func TestStartEmittingWithoutWebhookStopsWithContext(t *testing.T) {
	srv := lemlisttest.NewServer(lemlisttest.Options{RateLimit: lemlisttest.NoRateLimit, Dataset: lemlisttest.DatasetOptions{Seed: 3, Activities: 10}})
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	tick := make(chan struct{}, 10)
	stop := srv.StartEmitting(ctx, lemlisttest.EmitOptions{Interval: time.Millisecond, OnTick: func(acts []lemlisttest.Activity, err error) {
		if len(acts) != 1 || err != nil {
			t.Errorf("tick: %d activities, %v", len(acts), err)
		}
		select {
		case tick <- struct{}{}:
		default:
		}
	}})
	<-tick
	cancel()
	stop() // returns once the goroutine ended
	n := srv.Tenant(lemlisttest.DefaultTenant).Len()
	time.Sleep(10 * time.Millisecond)
	if m := srv.Tenant(lemlisttest.DefaultTenant).Len(); m != n {
		t.Fatalf("still emitting after stop: %d then %d", n, m)
	}
}

func TestStartEmittingReportsWebhookFailures(t *testing.T) {
	srv := lemlisttest.NewServer(lemlisttest.Options{RateLimit: lemlisttest.NoRateLimit, Dataset: lemlisttest.DatasetOptions{Seed: 3, Activities: 10}})
	defer srv.Close()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "wrong secret", http.StatusForbidden)
	}))
	defer hook.Close()
	errs := make(chan error, 10)
	stop := srv.StartEmitting(context.Background(), lemlisttest.EmitOptions{
		Interval: time.Millisecond, WebhookURL: hook.URL, Secret: "x",
		OnTick: func(_ []lemlisttest.Activity, err error) {
			select {
			case errs <- err:
			default:
			}
		},
	})
	defer stop()
	if err := <-errs; err == nil {
		t.Fatal("a 403 from the webhook went unreported")
	}
}
