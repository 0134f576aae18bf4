package feed

// recentIDs is a bounded set of the last n ids added: adding an id beyond n
// forgets the oldest. It grows as ids come, up to n. It is not safe for
// concurrent use.
type recentIDs struct {
	n    int
	ring []string
	next int // index in ring of the next slot to fill, once it is full
	set  map[string]struct{}
}

func newRecentIDs(n int) *recentIDs {
	return &recentIDs{n: n, set: map[string]struct{}{}}
}

func (r *recentIDs) has(id string) bool {
	_, ok := r.set[id]
	return ok
}

// add adds id, which must not be in the set.
func (r *recentIDs) add(id string) {
	if len(r.ring) < r.n {
		r.ring = append(r.ring, id)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = id
		r.next = (r.next + 1) % len(r.ring)
	}
	r.set[id] = struct{}{}
}
