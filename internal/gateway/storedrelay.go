package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lemlist-graphql/server/feed"
	"github.com/lemlist-graphql/server/lemlist"
)

// The mirror's new rows between replicas (issue 14). With replicas
// sharing one store (MIRROR=postgres://…), exactly one replica stores each
// activity for the first time: the lease holder's head poll or
// reconciliation, or whichever replica a webhook reached. Its engine's
// OnIngest (LiveFeed.Ingested) publishes the rows to its own subscribers
// and passes them on here, on the topic's stored channel; the others hand
// them to their hub as they are (receiveStored), never to their mirror
// again, so nothing loops. Each subscription's recent ids drop a repeat
// (a stored message and a webhook relay of the same activity, or, with a
// store per replica, each replica's own copy).
//
// Messages go out in the order the engines stored the rows, from one
// goroutine, so that OnIngest never waits on Redis. A message that cannot
// be sent (Redis down, or the queue full) is lost to the other replicas,
// like a webhook relay: pub/sub keeps no history.

const (
	// storedTopicSuffix marks the topic of stored rows: "<topic>/stored".
	// A topic is a tenant id (32 hex digits), which never holds a slash.
	storedTopicSuffix = "/stored"
	// storedQueue bounds the batches waiting to be sent.
	storedQueue = 1024
	// storedBatchRows bounds the activities of one message.
	storedBatchRows = lemlist.MaxPageSize
)

// storedBatch is a batch of rows waiting to be sent.
type storedBatch struct {
	topic string
	acts  []*lemlist.Activity
}

// storedRelay sends the rows this replica's mirror stored first to the
// other replicas.
type storedRelay struct {
	relay  FeedRelay
	logger *slog.Logger
	queue  chan storedBatch
	done   chan struct{} // closed by stop
	wg     sync.WaitGroup

	dropped atomic.Uint64 // activities not sent
	failing atomic.Bool   // the last send failed: logged once per outage
	once    sync.Once
}

// newStoredRelay starts the sender of stored rows over relay.
func newStoredRelay(relay FeedRelay, logger *slog.Logger) *storedRelay {
	r := &storedRelay{relay: relay, logger: logger, queue: make(chan storedBatch, storedQueue), done: make(chan struct{})}
	r.wg.Go(r.run)
	return r
}

// send queues acts (stored for the first time, oldest first) for the
// other replicas on topic. It never blocks: past the queue's bound they
// are dropped and counted.
func (r *storedRelay) send(topic string, acts []*lemlist.Activity) {
	select {
	case <-r.done:
		return
	default:
	}
	select {
	case r.queue <- storedBatch{topic + storedTopicSuffix, acts}:
	default:
		r.lost(len(acts), "the queue is full")
	}
}

// run sends the queued batches until stop.
func (r *storedRelay) run() {
	for {
		select {
		case <-r.done:
			return
		case b := <-r.queue:
			for acts := range slices.Chunk(b.acts, storedBatchRows) {
				payload, err := json.Marshal(acts)
				if err == nil {
					err = r.relay.Publish(context.Background(), b.topic, payload)
				}
				if err != nil {
					r.lost(len(acts), err.Error())
					continue
				}
				if r.failing.Swap(false) {
					r.logger.Info("live feed: new mirror rows reach the other replicas again")
				}
			}
		}
	}
}

// lost counts n activities the other replicas will not be sent, and logs
// the first loss of an outage.
func (r *storedRelay) lost(n int, why string) {
	r.dropped.Add(uint64(n))
	if !r.failing.Swap(true) {
		r.logger.Warn("live feed: new mirror rows cannot be passed to the other replicas; their subscribers miss them until this recovers",
			"error", why)
	}
}

// stop ends the sender; what is still queued is dropped. It is
// idempotent.
func (r *storedRelay) stop() {
	r.once.Do(func() { close(r.done) })
	r.wg.Wait()
}

// storedTopic returns the topic of a stored rows' message, and whether
// topic is one.
func storedTopic(topic string) (string, bool) {
	return strings.CutSuffix(topic, storedTopicSuffix)
}

// receiveStored publishes to the subscribers of the hub tenant the rows
// another replica's mirror stored: the hub's dedupe drops those a
// subscriber was sent already.
func (l *LiveFeed) receiveStored(tenant string, payload []byte) {
	var objs []json.RawMessage
	if err := json.Unmarshal(payload, &objs); err != nil {
		l.logger.Warn("live feed: dropped stored activities from another replica", "error", err.Error())
		return
	}
	for _, obj := range objs {
		a, err := feed.DecodeActivity(obj)
		if err != nil {
			l.logger.Warn("live feed: dropped a stored activity from another replica", "error", err.Error())
			continue
		}
		l.hub.Publish(tenant, a)
	}
}
