package feed

import (
	"sync"
	"time"
)

// replaySet remembers the webhook calls handled in the last window, by
// tenant and activity _id, up to max of them (beyond, the oldest are
// forgotten first). lemlist's calls carry no timestamp nor signature, only
// the echoed static secret, so the activity's _id is what tells a replay
// (or a retry of a call that succeeded) from a new event. It is safe for
// concurrent use.
type replaySet struct {
	window time.Duration
	max    int

	mu    sync.Mutex
	at    map[string]time.Time // claimed keys, with when
	order []replayEntry        // claims oldest first; order[head:] are live
	head  int
}

type replayEntry struct {
	key string
	at  time.Time
}

func newReplaySet(window time.Duration, max int) *replaySet {
	return &replaySet{window: window, max: max, at: map[string]time.Time{}}
}

// claim records key at now and reports true, unless key was claimed
// within the window (a replay): then it reports false.
func (r *replaySet) claim(key string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	if _, ok := r.at[key]; ok {
		return false
	}
	r.at[key] = now
	r.order = append(r.order, replayEntry{key, now})
	for len(r.at) > r.max {
		r.pop()
	}
	return true
}

// release forgets key: the call that claimed it failed, and lemlist's
// retry must be handled.
func (r *replaySet) release(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.at, key)
}

// expire forgets the claims older than the window.
func (r *replaySet) expire(now time.Time) {
	for r.head < len(r.order) && now.Sub(r.order[r.head].at) > r.window {
		r.pop()
	}
}

// pop forgets the oldest claim, and compacts order now and then.
func (r *replaySet) pop() {
	e := r.order[r.head]
	r.order[r.head] = replayEntry{}
	r.head++
	if at, ok := r.at[e.key]; ok && at.Equal(e.at) { // not released and claimed again since
		delete(r.at, e.key)
	}
	if r.head > 1024 && r.head > len(r.order)/2 {
		r.order = append(r.order[:0], r.order[r.head:]...)
		r.head = 0
	}
}
