// Package fairqueue is the waiting line of the rate limiters
// (lemlist.WindowLimiter and redisx's Limiter): one FIFO line per caller
// key, served round-robin across the keys that have something waiting, so
// that one caller's backlog cannot starve another.
//
// A Queue holds values, usually a waiter's handle (a channel, a pointer);
// granting and waking are left to its user, who also removes a waiter
// whose ctx ended before its turn came. It is a plain data structure with
// no lock: its users hold their own.
package fairqueue

import "slices"

// Queue holds values in one FIFO line per key, and hands them out
// round-robin across keys: the next value comes from the key after the one
// served last, in the order the keys arrived. A key whose line empties
// leaves the rotation without changing whose turn is next; it rejoins at
// the end. The zero value is an empty queue. A Queue is not safe for
// concurrent use.
type Queue[K comparable, T comparable] struct {
	byKey map[K]*line[K, T]
	ring  []*line[K, T] // the keys with values, in turn order
	next  int           // index in ring of the key served next
	n     int           // values held
}

type line[K comparable, T comparable] struct {
	key   K
	items []T
}

// Push adds v at the end of k's line.
func (q *Queue[K, T]) Push(k K, v T) {
	l := q.byKey[k]
	if l == nil {
		if q.byKey == nil {
			q.byKey = map[K]*line[K, T]{}
		}
		l = &line[K, T]{key: k}
		q.byKey[k] = l
		q.ring = append(q.ring, l)
	}
	l.items = append(l.items, v)
	q.n++
}

// Pop removes and returns the value whose turn it is: the head of the
// next key's line. It returns false when the queue is empty.
func (q *Queue[K, T]) Pop() (T, bool) {
	if len(q.ring) == 0 {
		var zero T
		return zero, false
	}
	l := q.ring[q.next]
	v := l.items[0]
	var zero T
	l.items[0] = zero // let it be collected
	l.items = l.items[1:]
	q.n--
	if len(l.items) == 0 {
		q.drop(l)
	} else {
		q.next = (q.next + 1) % len(q.ring)
	}
	return v, true
}

// Remove takes v out of k's line, keeping the order of the rest, and
// reports whether it was there.
func (q *Queue[K, T]) Remove(k K, v T) bool {
	l := q.byKey[k]
	if l == nil {
		return false
	}
	i := slices.Index(l.items, v)
	if i < 0 {
		return false
	}
	l.items = slices.Delete(l.items, i, i+1)
	q.n--
	if len(l.items) == 0 {
		q.drop(l)
	}
	return true
}

// Len returns the number of values held.
func (q *Queue[K, T]) Len() int { return q.n }

// LenOf returns the number of values in k's line.
func (q *Queue[K, T]) LenOf(k K) int {
	if l := q.byKey[k]; l != nil {
		return len(l.items)
	}
	return 0
}

// drop forgets l, whose line is empty, keeping the turn order.
func (q *Queue[K, T]) drop(l *line[K, T]) {
	i := slices.Index(q.ring, l)
	q.ring = slices.Delete(q.ring, i, i+1)
	delete(q.byKey, l.key)
	if i < q.next {
		q.next--
	}
	if q.next >= len(q.ring) {
		q.next = 0
	}
}
