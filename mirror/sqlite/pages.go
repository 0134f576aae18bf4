package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/lemlist-graphql/server/mirror"
)

// A page holds up to pageRows rows written by one Apply, in two s2 blocks:
// meta, each row's columns, and raw, the rows' upstream JSON one after the
// other. Rows are stored a page at a time because SQLite's cost is per row
// and per byte: one 100-row page is one INSERT of about 30 KB where a row
// per activity was 100 INSERTs, two index updates each, and 125 KB (see
// docs/benchmarks.md, "Ingest per page"). The rows of a page share their
// JSON keys and most of their values, so s2 shrinks a page about
// fourfold without a dictionary (409 MiB for 1M activities whose JSON
// averages 1,243 bytes).
//
// A row's key is its page's pid times pageRows plus its index in the page:
// keys grow with every write, as the in-memory columns require.
const pageRows = 128

// keyOf returns the key of the row at index k of page pid.
func keyOf(pid int64, k int) int64 { return pid*pageRows + int64(k) }

// pageOf splits a key into its page's pid and the row's index.
func pageOf(key int64) (pid int64, k int) { return key / pageRows, int(key % pageRows) }

// pageRow is one row of a decoded page. Its strings alias the page's
// decoded blocks.
type pageRow struct {
	id, typ, channel, campaign, lead, contact, user []byte
	at                                              int64 // createdAt, unix ms
	first                                           bool
	step                                            int64
	hasStep                                         bool
	raw                                             []byte
}

// row converts r to a mirror.Row, copying its bytes.
func (r *pageRow) row() mirror.Row {
	out := mirror.Row{
		ID: string(r.id), Type: string(r.typ), Channel: string(r.channel),
		CampaignID: string(r.campaign), LeadID: string(r.lead), ContactID: string(r.contact), UserID: string(r.user),
		CreatedAt: time.UnixMilli(r.at).UTC(), IsFirst: r.first,
	}
	if r.hasStep {
		n := int(r.step)
		out.SequenceStep = &n
	}
	if len(r.raw) > 0 {
		out.Raw = append([]byte(nil), r.raw...)
	}
	return out
}

// same reports whether r stores exactly what m would.
func (r *pageRow) same(m *mirror.Row) bool {
	step, hasStep := int64(0), m.SequenceStep != nil
	if hasStep {
		step = int64(*m.SequenceStep)
	}
	return string(r.id) == m.ID && string(r.typ) == m.Type && string(r.channel) == m.Channel &&
		string(r.campaign) == m.CampaignID && string(r.lead) == m.LeadID && string(r.contact) == m.ContactID &&
		string(r.user) == m.UserID && r.at == m.CreatedAt.UnixMilli() && r.first == m.IsFirst &&
		r.hasStep == hasStep && r.step == step && string(r.raw) == string(m.Raw)
}

// Flags of a row in the meta block.
const (
	flagFirst = 1 << iota
	flagStep
)

// pageEncoder encodes pages, reusing its buffers.
type pageEncoder struct {
	meta, raw, metaOut, rawOut []byte
}

// encode returns the meta and raw blocks of rows. They alias e's buffers
// until the next call.
func (e *pageEncoder) encode(rows []*mirror.Row) (meta, raw []byte) {
	e.meta, e.raw = e.meta[:0], e.raw[:0]
	for _, r := range rows {
		for _, s := range [...]string{r.ID, r.Type, r.Channel, r.CampaignID, r.LeadID, r.ContactID, r.UserID} {
			e.meta = binary.AppendUvarint(e.meta, uint64(len(s)))
			e.meta = append(e.meta, s...)
		}
		e.meta = binary.AppendVarint(e.meta, r.CreatedAt.UnixMilli())
		var flags byte
		if r.IsFirst {
			flags |= flagFirst
		}
		if r.SequenceStep != nil {
			flags |= flagStep
		}
		e.meta = append(e.meta, flags)
		if r.SequenceStep != nil {
			e.meta = binary.AppendVarint(e.meta, int64(*r.SequenceStep))
		}
		e.meta = binary.AppendUvarint(e.meta, uint64(len(r.Raw)))
		e.raw = append(e.raw, r.Raw...)
	}
	e.metaOut = s2.Encode(e.metaOut[:cap(e.metaOut)], e.meta)
	e.rawOut = s2.Encode(e.rawOut[:cap(e.rawOut)], e.raw)
	return e.metaOut, e.rawOut
}

var errCorrupt = errors.New("sqlite: corrupt page")

// decodePage decodes the n rows of a page into rows (reused), with their
// JSON when raw is not nil. metaBuf and rawBuf are reused for the decoded
// blocks, which the rows alias.
func decodePage(n int, meta, raw []byte, rows []pageRow, metaBuf, rawBuf *[]byte) ([]pageRow, error) {
	m, err := s2.Decode((*metaBuf)[:cap(*metaBuf)], meta)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	*metaBuf = m
	var body []byte
	if raw != nil {
		if body, err = s2.Decode((*rawBuf)[:cap(*rawBuf)], raw); err != nil {
			return nil, fmt.Errorf("%w: %v", errCorrupt, err)
		}
		*rawBuf = body
	}
	rows = rows[:0]
	d := decoder{b: m}
	off := 0
	for range n {
		var r pageRow
		for _, p := range [...]*[]byte{&r.id, &r.typ, &r.channel, &r.campaign, &r.lead, &r.contact, &r.user} {
			*p = d.bytes()
		}
		r.at = d.varint()
		flags := d.byte()
		r.first = flags&flagFirst != 0
		if flags&flagStep != 0 {
			r.step, r.hasStep = d.varint(), true
		}
		size := int(d.uvarint())
		if raw != nil {
			if size < 0 || off+size > len(body) {
				return nil, errCorrupt
			}
			r.raw = body[off : off+size : off+size]
		}
		off += size
		rows = append(rows, r)
	}
	if d.bad || len(d.b) != 0 || (raw != nil && off != len(body)) {
		return nil, errCorrupt
	}
	return rows, nil
}

// decoder reads a meta block; bad records a short or malformed one.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 { return readVarint(d, binary.Uvarint) }

func (d *decoder) varint() int64 { return readVarint(d, binary.Varint) }

// readVarint reads one value with read (binary.Uvarint or binary.Varint).
func readVarint[T uint64 | int64](d *decoder, read func([]byte) (T, int)) T {
	v, n := read(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}
