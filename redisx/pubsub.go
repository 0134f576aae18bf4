package redisx

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Pub/sub of the live feed: an activity that a webhook brought to one
// replica reaches the subscribers of every replica. Messages travel on the
// channels "lgql:feed:<topic>" (a topic is a tenant id), or
// "lgql:<namespace>:feed:<topic>" with Options.Namespace, as
//
//	v1:<hex HMAC-SHA256 of channel "\n" origin "\n" payload>\n<origin>\n<payload>
//
// where origin is the publishing process's id, and the HMAC's key derives
// from Options.FeedSecret. A subscriber drops, logs and counts a message
// whose HMAC is missing or wrong (FeedRejected), and drops its own
// messages, since it delivered them locally already. Without a FeedSecret,
// messages are "<origin>\n<payload>", unchecked.
//
// The HMAC proves that a replica of the deployment sent the message; it
// does not stop a replay of a message captured on the Redis, which the
// feed's per-subscription dedupe by activity id makes harmless (the same
// activity, delivered once).

// FeedChannelPrefix prefixes the pub/sub channel of each topic, without a
// namespace.
const FeedChannelPrefix = "lgql:feed:"

// feedChannelPrefix returns the channel prefix of namespace.
func feedChannelPrefix(namespace string) string {
	if namespace == "" {
		return FeedChannelPrefix
	}
	return "lgql:" + namespace + ":feed:"
}

// feedKey derives the HMAC key of the feed's messages from secret, so
// that the secret itself (e.g. WEBHOOK_SECRET) is not the key of another
// use; nil for no secret.
func feedKey(secret string) []byte {
	if secret == "" {
		return nil
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("lemlist-graphql/redisx.feed/v1"))
	return m.Sum(nil)
}

// feedMAC is the hex HMAC of a message.
func (r *Redis) feedMAC(channel, origin string, payload []byte) []byte {
	m := hmac.New(sha256.New, r.feedKey)
	m.Write([]byte(channel + "\n" + origin + "\n"))
	m.Write(payload)
	return hex.AppendEncode(nil, m.Sum(nil))
}

// FeedRejected returns how many feed messages this process dropped for a
// missing or wrong HMAC: a counter callback.
func (r *Redis) FeedRejected() uint64 { return r.feedRejected.Load() }

// DefaultPubSubPing is how long a subscription waits for a message before
// it PINGs Redis to learn whether the connection still works; a PING left
// unanswered that long again counts as a failure.
const DefaultPubSubPing = time.Second

// Publish sends payload to the handlers of topic on every other process
// subscribed with Subscribe. Like every command it fails at once with
// ErrUnavailable while Redis is down: nothing is queued, so a replica that
// misses the message must rely on its pollers.
func (r *Redis) Publish(ctx context.Context, topic string, payload []byte) error {
	if !r.Healthy() {
		return ErrUnavailable
	}
	channel := r.feedPrefix + topic
	msg := make([]byte, 0, 68+len(r.procID)+1+len(payload))
	if r.feedKey != nil {
		msg = append(append(append(msg, "v1:"...), r.feedMAC(channel, r.procID, payload)...), '\n')
	}
	msg = append(append(append(msg, r.procID...), '\n'), payload...)
	ctx, cancel := r.opContext(ctx)
	defer cancel()
	return r.check(r.rdb.Publish(ctx, channel, msg).Err())
}

// Subscribe calls handle with the topic and payload of every message that
// other processes Publish, one message at a time, in the order Redis
// delivers them, until ctx is done or r is closed. It returns at once; the
// subscription runs in a goroutine of its own, and the returned function
// stops it and waits for it.
//
// A subscription survives Redis failures: after a broken or silent
// connection (see DefaultPubSubPing) it marks Redis down, like any failed
// command, and subscribes again with the prober's backoff until Redis
// answers. Messages published meanwhile are lost to it: pub/sub keeps no
// history.
func (r *Redis) Subscribe(ctx context.Context, handle func(topic string, payload []byte)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		cancel()
		return func() {}
	}
	r.probing.Go(func() { // Close waits for it
		defer close(done)
		go func() {
			select {
			case <-r.closing:
				cancel()
			case <-ctx.Done():
			}
		}()
		r.subscribeLoop(ctx, handle)
	})
	return func() {
		cancel()
		<-done
	}
}

// subscribeLoop subscribes, receives until the connection fails, then backs
// off and subscribes again, until ctx is done.
func (r *Redis) subscribeLoop(ctx context.Context, handle func(topic string, payload []byte)) {
	backoff := r.probe[0]
	lost := false
	for ctx.Err() == nil {
		err := r.receive(ctx, handle, func() {
			backoff = r.probe[0]
			if lost {
				r.log.Info("redis: feed subscription restored")
				lost = false
			}
		})
		if ctx.Err() != nil {
			return
		}
		if !lost {
			r.log.Warn("redis: feed subscription lost: activities from other replicas' webhooks miss this one until it is restored", "err", err)
			lost = true
		}
		r.check(err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, r.probe[1])
	}
}

// receive runs one subscription until it fails or ctx is done, calling
// subscribed once Redis confirmed it.
func (r *Redis) receive(ctx context.Context, handle func(topic string, payload []byte), subscribed func()) error {
	ps := r.rdb.PSubscribe(ctx, r.feedPrefix+"*")
	defer ps.Close()
	// A read blocks regardless of ctx: closing the connection ends it.
	unhook := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer unhook()

	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	msg, err := ps.ReceiveTimeout(cctx, r.timeout)
	cancel()
	if err != nil {
		return err
	}
	if _, ok := msg.(*redis.Subscription); !ok {
		return errors.New("redisx: unexpected answer to PSUBSCRIBE")
	}
	subscribed()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, DefaultPubSubPing)
		if err != nil {
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() && ctx.Err() == nil {
				if pinged {
					return errors.New("redisx: no answer to PING on the feed subscription")
				}
				pctx, cancel := context.WithTimeout(ctx, r.timeout)
				err = ps.Ping(pctx)
				cancel()
				if err != nil {
					return err
				}
				pinged = true
				continue
			}
			return err
		}
		pinged = false
		m, ok := msg.(*redis.Message)
		if !ok {
			continue // a Pong, or a Subscription
		}
		origin, payload, ok := r.openFeedMessage(m.Channel, []byte(m.Payload))
		if !ok || origin == r.procID {
			continue
		}
		handle(strings.TrimPrefix(m.Channel, r.feedPrefix), payload)
	}
}

// openFeedMessage returns the origin and payload of a message received on
// channel, and whether it is valid: well formed and, with a FeedSecret,
// carrying the right HMAC. It counts and logs the messages it refuses.
func (r *Redis) openFeedMessage(channel string, msg []byte) (origin string, payload []byte, ok bool) {
	if r.feedKey != nil {
		mac, rest, found := bytes.Cut(msg, []byte{'\n'})
		mac, signed := bytes.CutPrefix(mac, []byte("v1:"))
		o, p, framed := bytes.Cut(rest, []byte{'\n'})
		if !found || !signed || !framed || !hmac.Equal(mac, r.feedMAC(channel, string(o), p)) {
			r.rejectFeedMessage(channel)
			return "", nil, false
		}
		return string(o), p, true
	}
	o, p, framed := bytes.Cut(msg, []byte{'\n'})
	return string(o), p, framed
}

// rejectFeedMessage counts a refused message, and logs it unless another
// was logged in the last 10 s (a flood must not flood the logs).
func (r *Redis) rejectFeedMessage(channel string) {
	n := r.feedRejected.Add(1)
	if r.warnDue(&r.lastFeedWarn) {
		r.log.Warn("redis: dropped a feed message without a valid HMAC: something other than this deployment's replicas publishes on its channels",
			"channel", channel, "rejected_total", n)
	}
}
