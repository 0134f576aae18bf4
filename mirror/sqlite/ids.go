package sqlite

import (
	"errors"
	"hash/maphash"
)

// idIndex finds the key of a tenant's row from its id, in memory: an
// index in the database would put each new row on its own page of it
// (lemlist's ids are random), which is most of what storing a row costs.
//
// It is a linear-probing hash table of 8-byte entries, a fingerprint of
// the id (fpBits of its hash, the low bit set so that no entry is zero)
// above the row's key, at most four fifths full: about 11 MB for 1M rows.
// A fingerprint matches about one other id in four million, so a match is
// a candidate the caller checks against the stored row: the index is
// exact. A slot's home is derived from its fingerprint, which lets the
// table grow and delete (shifting entries back, no tombstones) without
// the ids.
type idIndex struct {
	seed    maphash.Seed
	entries []uint64
	n       int
}

const (
	keyBits = 42 // 4.4e12 row keys: 34 billion pages
	fpBits  = 64 - keyBits
	keyMask = 1<<keyBits - 1
)

// errKeysExhausted is returned by a write past the last key the index
// holds.
var errKeysExhausted = errors.New("sqlite: row keys exhausted (more than 34 billion pages written)")

func newIDIndex(seed maphash.Seed, hint int) *idIndex {
	return &idIndex{seed: seed, entries: make([]uint64, max(1024, hint*7/5))}
}

// fingerprint returns id's fingerprint.
func (x *idIndex) fingerprint(id string) uint32 {
	return uint32(maphash.String(x.seed, id)>>(64-fpBits)) | 1
}

// fingerprintBytes is fingerprint for an id held in bytes.
func (x *idIndex) fingerprintBytes(id []byte) uint32 {
	return uint32(maphash.Bytes(x.seed, id)>>(64-fpBits)) | 1
}

func (x *idIndex) home(fp uint32) int { return int(uint64(fp) * uint64(len(x.entries)) >> fpBits) }

func (x *idIndex) next(i int) int {
	if i++; i == len(x.entries) {
		return 0
	}
	return i
}

// candidates calls fn with the key of every row whose id may be the one
// with fingerprint fp, until fn returns false.
func (x *idIndex) candidates(fp uint32, fn func(key int64) bool) {
	for i := x.home(fp); x.entries[i] != 0; i = x.next(i) {
		if e := x.entries[i]; uint32(e>>keyBits) == fp && !fn(int64(e&keyMask)) {
			return
		}
	}
}

// add records key under fp; key must be below 1<<keyBits.
func (x *idIndex) add(fp uint32, key int64) {
	if (x.n+1)*5 > len(x.entries)*4 {
		old := x.entries
		x.entries = make([]uint64, len(old)*3/2)
		for _, e := range old {
			if e != 0 {
				x.put(e)
			}
		}
	}
	x.put(uint64(fp)<<keyBits | uint64(key))
	x.n++
}

func (x *idIndex) put(e uint64) {
	i := x.home(uint32(e >> keyBits))
	for x.entries[i] != 0 {
		i = x.next(i)
	}
	x.entries[i] = e
}

// remove forgets the entry of key under fp, if there is one.
func (x *idIndex) remove(fp uint32, key int64) {
	e := uint64(fp)<<keyBits | uint64(key)
	i := x.home(fp)
	for x.entries[i] != 0 && x.entries[i] != e {
		i = x.next(i)
	}
	if x.entries[i] == 0 {
		return
	}
	x.n--
	// Shift back the entries after i that may sit at i: those whose home
	// is not cyclically in (i, j].
	for j := x.next(i); x.entries[j] != 0; j = x.next(j) {
		h := x.home(uint32(x.entries[j] >> keyBits))
		if (i <= j && (h <= i || h > j)) || (i > j && h <= i && h > j) {
			x.entries[i] = x.entries[j]
			i = j
		}
	}
	x.entries[i] = 0
}
