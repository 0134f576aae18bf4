package sqlite

import "hash/maphash"

// idIndex finds the key of a tenant's row from its id, in memory: an
// index in the database would put each new row on its own page of it
// (lemlist's ids are random), which is most of what storing a row costs.
//
// It is a linear-probing hash table of 32-bit fingerprints (a hash of the
// id) and row keys, 12 bytes a slot, at most four fifths full: about
// 17 MB for 1M rows. Among n stored ids, a new id's fingerprint matches
// one with odds of about n in 2^32 (1 in 4,300 at 1M), so a match is a
// candidate the caller checks against the stored row: the index is exact.
// A slot's home is derived from its fingerprint, which lets the table grow
// and delete (shifting entries back, no tombstones) without the ids. Keys
// are never zero (pages are numbered from 1), so zero marks a free slot.
type idIndex struct {
	seed maphash.Seed
	fps  []uint32
	keys []int64
	n    int
}

func newIDIndex(seed maphash.Seed, hint int) *idIndex {
	x := &idIndex{seed: seed}
	x.alloc(max(1024, hint*7/5))
	return x
}

func (x *idIndex) alloc(size int) { x.fps, x.keys = make([]uint32, size), make([]int64, size) }

// fingerprint returns id's fingerprint.
func (x *idIndex) fingerprint(id string) uint32 { return uint32(maphash.String(x.seed, id) >> 32) }

// fingerprintBytes is fingerprint for an id held in bytes.
func (x *idIndex) fingerprintBytes(id []byte) uint32 { return uint32(maphash.Bytes(x.seed, id) >> 32) }

func (x *idIndex) home(fp uint32) int { return int(uint64(fp) * uint64(len(x.fps)) >> 32) }

func (x *idIndex) next(i int) int {
	if i++; i == len(x.fps) {
		return 0
	}
	return i
}

// candidates calls fn with the key of every row whose id may be the one
// with fingerprint fp, until fn returns false.
func (x *idIndex) candidates(fp uint32, fn func(key int64) bool) {
	for i := x.home(fp); x.keys[i] != 0; i = x.next(i) {
		if x.fps[i] == fp && !fn(x.keys[i]) {
			return
		}
	}
}

// add records key (not zero) under fp.
func (x *idIndex) add(fp uint32, key int64) {
	if (x.n+1)*5 > len(x.fps)*4 {
		fps, keys := x.fps, x.keys
		x.alloc(len(fps) * 3 / 2)
		for i, k := range keys {
			if k != 0 {
				x.put(fps[i], k)
			}
		}
	}
	x.put(fp, key)
	x.n++
}

func (x *idIndex) put(fp uint32, key int64) {
	i := x.home(fp)
	for x.keys[i] != 0 {
		i = x.next(i)
	}
	x.fps[i], x.keys[i] = fp, key
}

// remove forgets the entry of key under fp, if there is one.
func (x *idIndex) remove(fp uint32, key int64) {
	i := x.home(fp)
	for x.keys[i] != 0 && (x.fps[i] != fp || x.keys[i] != key) {
		i = x.next(i)
	}
	if x.keys[i] == 0 {
		return
	}
	x.n--
	// Shift back the entries after i that may sit at i: those whose home
	// is not cyclically in (i, j].
	for j := x.next(i); x.keys[j] != 0; j = x.next(j) {
		h := x.home(x.fps[j])
		if (i <= j && (h <= i || h > j)) || (i > j && h <= i && h > j) {
			x.fps[i], x.keys[i] = x.fps[j], x.keys[j]
			i = j
		}
	}
	x.fps[i], x.keys[i] = 0, 0
}
