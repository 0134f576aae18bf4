package redisx

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/lemlist-graphql/server/upstream"
)

// cachePrefix namespaces the cache's keys.
const cachePrefix = "lgql:cache:"

// CacheStore returns r as a second-level store for upstream.Cache
// (upstream.CacheOptions.Shared). Entries are plain strings under
// "lgql:cache:<key>", written with SET PX for the entry's remaining TTL,
// read with GET, and with MGET and a pipeline of SETs for batches. While
// Redis is down every call fails at once with ErrUnavailable, which the
// cache takes as a miss.
//
// Redis should evict under memory pressure rather than refuse writes
// (maxmemory-policy allkeys-lru): every entry can be fetched again. When
// it also keeps pass-through webhook secrets (secrets.go), which have no
// TTL, use volatile-lru: every cache entry has a TTL.
func (r *Redis) CacheStore() upstream.SharedBatchStore { return cacheStore{r} }

type cacheStore struct{ r *Redis }

func (s cacheStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if !s.r.Healthy() {
		return nil, false, ErrUnavailable
	}
	ctx, cancel := s.r.opContext(ctx)
	defer cancel()
	b, err := s.r.rdb.Get(ctx, cachePrefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err := s.r.check(err); err != nil {
		return nil, false, err
	}
	return b, true, nil
}

func (s cacheStore) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if !s.r.Healthy() {
		return ErrUnavailable
	}
	ctx, cancel := s.r.opContext(ctx)
	defer cancel()
	return s.r.check(s.r.rdb.Do(ctx, "SET", cachePrefix+key, val, "PX", ttlMillis(ttl)).Err())
}

func (s cacheStore) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if !s.r.Healthy() {
		return nil, ErrUnavailable
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = cachePrefix + k
	}
	ctx, cancel := s.r.opContext(ctx)
	defer cancel()
	vals, err := s.r.rdb.MGet(ctx, names...).Result()
	if err := s.r.check(err); err != nil {
		return nil, err
	}
	out := make([][]byte, len(keys))
	for i, v := range vals {
		if str, ok := v.(string); ok && i < len(out) {
			out[i] = []byte(str)
		}
	}
	return out, nil
}

func (s cacheStore) SetMany(ctx context.Context, entries []upstream.SharedEntry) error {
	if !s.r.Healthy() {
		return ErrUnavailable
	}
	ctx, cancel := s.r.opContext(ctx)
	defer cancel()
	cmds, err := s.r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			p.Do(ctx, "SET", cachePrefix+e.Key, e.Val, "PX", ttlMillis(e.TTL))
		}
		return nil
	})
	if err == nil {
		for _, c := range cmds {
			if err = c.Err(); err != nil {
				break
			}
		}
	}
	return s.r.check(err)
}

// ttlMillis is ttl in whole milliseconds, at least 1 (SET PX refuses 0).
func ttlMillis(ttl time.Duration) int64 { return max(ttl.Milliseconds(), 1) }
