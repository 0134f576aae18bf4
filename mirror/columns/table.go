// Package columns keeps an in-memory, column-wise copy of one tenant's
// mirrored activities and answers mirror.StatsQuery and mirror.SeriesQuery
// from it, exactly, in a few milliseconds over a million rows.
//
// Why not SQL: measured with modernc.org/sqlite on this project's machine,
// grouping 250k rows (90 days of a 1M-activity year) by day and campaign
// takes 250-300 ms, and a rollup table keyed by day × type × campaign ×
// user × isFirst does not shrink such data (988k rows for 1M activities
// spread over 250 campaigns and 60 types); hour rollups shrink it even
// less. A scan of fixed-width columns does it in milliseconds, and
// exactly in every zone: a row's bucket is found from its own instant.
//
// A row takes 32 bytes, in blocks without pointers kept outside the Go
// heap (offheap_unix.go), plus one dictionary entry per distinct type,
// channel, campaign, user and lead. A Table is kept current by its store after each
// committed write, under the store's write lock, so readers see whole
// batches.
package columns

import (
	"fmt"
	"runtime"
	"sort"
	"sync"

	"github.com/lemlist-graphql/server/mirror"
)

// blockSize is the rows per block.
const blockSize = 4096

const (
	fLive  uint8 = 1 << iota // the slot holds a row (not deleted)
	fFirst                   // isFirst
)

// block holds blockSize rows column-wise.
type block struct {
	key   [blockSize]int64
	at    [blockSize]int64 // createdAt, unix ms
	typ   [blockSize]uint16
	ch    [blockSize]uint8
	flags [blockSize]uint8
	camp  [blockSize]uint32
	user  [blockSize]uint32
	lead  [blockSize]uint32
}

// dict interns strings; code 0 is "".
type dict struct {
	codes map[string]uint32
	names []string
}

func newDict() dict { return dict{codes: map[string]uint32{"": 0}, names: []string{""}} }

func (d *dict) code(s string) uint32 {
	if c, ok := d.codes[s]; ok {
		return c
	}
	c := uint32(len(d.names))
	d.codes[s] = c
	d.names = append(d.names, s)
	return c
}

// lookup returns s's code, or false when s was never stored.
func (d *dict) lookup(s string) (uint32, bool) {
	c, ok := d.codes[s]
	return c, ok
}

// Table is one tenant's rows. Reads are safe for concurrent use; writes go
// through Update.
type Table struct {
	mu     sync.RWMutex
	mem    *offHeap
	blocks []*block // in mem
	n      int      // slots used
	live   int
	minAt  int64
	maxAt  int64

	types, chans, camps, users, leads dict
}

// New returns an empty table.
func New() *Table {
	t := &Table{
		mem:   &offHeap{},
		types: newDict(), chans: newDict(), camps: newDict(), users: newDict(), leads: newDict(),
	}
	runtime.AddCleanup(t, (*offHeap).free, t.mem)
	return t
}

// Len returns the number of rows.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.live
}

// Writer changes a table inside Update.
type Writer struct{ t *Table }

// Update runs fn with the table locked for writing: readers see the table
// before or after fn, never in between.
func (t *Table) Update(fn func(w *Writer) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return fn(&Writer{t})
}

// Upsert stores r under key, the store's stable integer id of the row (a
// SQLite rowid). A key not stored yet must be greater than every key
// stored so far; otherwise Upsert fails and the table must be rebuilt.
func (w *Writer) Upsert(key int64, r *mirror.Row) error {
	return w.set(key, r.CreatedAt.UnixMilli(), r.IsFirst,
		w.t.types.code(r.Type), w.t.chans.code(r.Channel), w.t.camps.code(r.CampaignID), w.t.leads.code(r.LeadID), w.t.users.code(r.UserID))
}

// Load is Upsert with the columns as bytes, as a database scan gives them
// (they are copied only when new to the table's dictionaries).
func (w *Writer) Load(key int64, typ, channel, campaign, lead, user []byte, createdAtMs int64, isFirst bool) error {
	t := w.t
	return w.set(key, createdAtMs, isFirst,
		t.types.codeBytes(typ), t.chans.codeBytes(channel), t.camps.codeBytes(campaign), t.leads.codeBytes(lead), t.users.codeBytes(user))
}

func (d *dict) codeBytes(b []byte) uint32 {
	if c, ok := d.codes[string(b)]; ok { // no allocation
		return c
	}
	return d.code(string(b))
}

func (w *Writer) set(key, at int64, first bool, typ, ch, camp, lead, user uint32) error {
	t := w.t
	if typ >= 1<<16 || ch >= 1<<8 {
		return fmt.Errorf("columns: more than %d types or %d channels", 1<<16, 1<<8)
	}
	i, found := t.n, false
	if t.n > 0 && key <= t.keyAt(t.n-1) { // not an append
		i, found = t.find(key)
	}
	if !found {
		if t.n > 0 && key <= t.keyAt(t.n-1) {
			return fmt.Errorf("columns: key %d is not above the newest key %d", key, t.keyAt(t.n-1))
		}
		i = t.n
		if i/blockSize == len(t.blocks) {
			t.blocks = append(t.blocks, t.mem.block())
		}
		t.n++
	}
	b, j := t.blocks[i/blockSize], i%blockSize
	if b.flags[j]&fLive == 0 {
		t.live++
	}
	b.key[j] = key
	b.at[j] = at
	b.typ[j] = uint16(typ)
	b.ch[j] = uint8(ch)
	b.camp[j] = camp
	b.user[j] = user
	b.lead[j] = lead
	b.flags[j] = fLive
	if first {
		b.flags[j] |= fFirst
	}
	if t.live == 1 || at < t.minAt {
		t.minAt = at
	}
	if t.live == 1 || at > t.maxAt {
		t.maxAt = at
	}
	return nil
}

// Delete removes the row stored under key, if any.
func (w *Writer) Delete(key int64) {
	t := w.t
	if i, ok := t.find(key); ok {
		b, j := t.blocks[i/blockSize], i%blockSize
		if b.flags[j]&fLive != 0 {
			b.flags[j] = 0
			t.live--
		}
	}
}

func (t *Table) keyAt(i int) int64 { return t.blocks[i/blockSize].key[i%blockSize] }

// find returns the slot of key; slots are in key order.
func (t *Table) find(key int64) (int, bool) {
	i := sort.Search(t.n, func(i int) bool { return t.keyAt(i) >= key })
	return i, i < t.n && t.keyAt(i) == key
}

// Keys returns the keys of the rows created in [fromMs, toMs], in key
// order.
func (t *Table) Keys(fromMs, toMs int64) []int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []int64
	for bi, b := range t.blocks {
		n := min(blockSize, t.n-bi*blockSize)
		for j := range n {
			if b.flags[j]&fLive != 0 && b.at[j] >= fromMs && b.at[j] <= toMs {
				out = append(out, b.key[j])
			}
		}
	}
	return out
}
