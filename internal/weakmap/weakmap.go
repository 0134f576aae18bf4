// Package weakmap is a map whose values live only as long as someone else
// holds them: a registry that hands out one value per key while it is in
// use, and forgets it once it is collected. lemlist.Limiters and redisx's
// limiter source keep their per-key limiters in one, so that many keys
// seen once (a pass-through server probed with made-up keys) do not grow
// memory for ever.
package weakmap

import (
	"runtime"
	"sync"
	"weak"
)

// Map maps keys to values held weakly. The zero value is ready to use; it
// is safe for concurrent use.
type Map[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]weak.Pointer[V]
}

// Get returns the value of k while it is alive, or else stores and
// returns the one build makes (under the map's lock).
func (m *Map[K, V]) Get(k K, build func() *V) *V {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v := m.m[k].Value(); v != nil {
		return v
	}
	if m.m == nil {
		m.m = map[K]weak.Pointer[V]{}
	}
	v := build()
	wp := weak.Make(v)
	m.m[k] = wp
	runtime.AddCleanup(v, m.forget, entry[K, V]{k, wp})
	return v
}

// Len returns how many keys have a value that was not yet found
// collected.
func (m *Map[K, V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}

type entry[K comparable, V any] struct {
	key K
	ptr weak.Pointer[V]
}

// forget drops the entry of a collected value, unless the key already has
// a new one.
func (m *Map[K, V]) forget(e entry[K, V]) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m[e.key] == e.ptr {
		delete(m.m, e.key)
	}
}
