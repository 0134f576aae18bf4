package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/upstream"
)

// teamUpstream answers GetTeam with err (nil: a team), counting calls,
// after release is closed when it is set.
type teamUpstream struct {
	upstream.Upstream
	calls   atomic.Int32
	err     atomic.Pointer[error]
	release chan struct{}
}

func (u *teamUpstream) GetTeam(ctx context.Context) (*lemlist.Team, error) {
	u.calls.Add(1)
	if u.release != nil {
		<-u.release
	}
	if e := u.err.Load(); e != nil {
		return nil, *e
	}
	return &lemlist.Team{}, nil
}

func (u *teamUpstream) fail(err error) { u.err.Store(&err) }

// The verdict on a key is kept for the TTL, accepted or rejected; a stale
// one costs one check; a check that fails otherwise than 401 keeps none.
func TestKeyVerdicts(t *testing.T) {
	t.Parallel()
	now := time.Unix(1e9, 0)
	v := newKeyVerdicts(30*time.Second, time.Second, func() time.Time { return now })
	up := &teamUpstream{}
	tn := &Tenant{Upstream: up, ID: "t1", verify: true}
	rejected := &lemlist.ErrorResponse{StatusCode: http.StatusUnauthorized, Message: "no"}

	if err := v.check(t.Context(), tn); err != nil || up.calls.Load() != 1 {
		t.Fatalf("first check: %v, %d calls", err, up.calls.Load())
	}
	up.fail(rejected)
	now = now.Add(29 * time.Second)
	if err := v.check(t.Context(), tn); err != nil || up.calls.Load() != 1 {
		t.Fatalf("within the TTL: %v, %d calls", err, up.calls.Load())
	}
	now = now.Add(time.Second)
	if err := v.check(t.Context(), tn); !isRejected(err) || up.calls.Load() != 2 {
		t.Fatalf("after the TTL, revoked: %v, %d calls", err, up.calls.Load())
	}
	if err := v.check(t.Context(), tn); !isRejected(err) || up.calls.Load() != 2 {
		t.Fatalf("the rejection is kept: %v, %d calls", err, up.calls.Load())
	}
	// An answer to the key renews its verdict without a check.
	v.observe(tn.ID, http.StatusOK)
	if err := v.check(t.Context(), tn); err != nil || up.calls.Load() != 2 {
		t.Fatalf("after a 200: %v, %d calls", err, up.calls.Load())
	}
	v.observe(tn.ID, http.StatusTooManyRequests) // says nothing
	v.observe(tn.ID, http.StatusUnauthorized)
	if err := v.check(t.Context(), tn); !isRejected(err) || up.calls.Load() != 2 {
		t.Fatalf("after a 401: %v, %d calls", err, up.calls.Load())
	}

	// A failed check gives no verdict: the error, and a new check next time.
	other := &teamUpstream{}
	other.fail(&lemlist.RateLimitError{Endpoint: "team"})
	t2 := &Tenant{Upstream: other, ID: "t2", verify: true}
	for i := range 2 {
		if err := v.check(t.Context(), t2); !errors.As(err, new(*lemlist.RateLimitError)) || other.calls.Load() != int32(i+1) {
			t.Fatalf("a rate-limited check: %v, %d calls", err, other.calls.Load())
		}
	}
	// Tenants of other modes are not checked.
	if err := v.check(t.Context(), &Tenant{Upstream: other, ID: "server"}); err != nil || other.calls.Load() != 2 {
		t.Fatalf("a server-mode tenant: %v, %d calls", err, other.calls.Load())
	}
}

func isRejected(err error) bool {
	return err != nil && err.Error() == errKeyRejected().Error()
}

// Concurrent operations of one key share one check; verdicts are bounded.
func TestKeyVerdictsShared(t *testing.T) {
	t.Parallel()
	v := newKeyVerdicts(time.Minute, time.Second, nil)
	up := &teamUpstream{release: make(chan struct{})}
	tn := &Tenant{Upstream: up, ID: "t1", verify: true}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() { errs <- v.check(t.Context(), tn) })
	}
	for up.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(up.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := up.calls.Load(); n != 1 {
		t.Errorf("%d checks for 20 concurrent operations, want 1", n)
	}
	for i := range maxKeyVerdicts + 10 {
		v.note(strconv.Itoa(i), false)
	}
	if n, _ := v.verdicts.Size(); n != maxKeyVerdicts {
		t.Errorf("%d verdicts kept, want %d", n, maxKeyVerdicts)
	}
}
