package relay

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"time"
)

// cursorVersion is the first byte of every cursor this package mints.
// A change to the layout bumps it, and older cursors are refused cleanly.
const cursorVersion = 1

// MaxOffset bounds the offsets a cursor may carry.
const MaxOffset = 50_000_000

// Cursor is the decoded form of an edge's opaque cursor: the edge's offset
// in a list pinned at Pin, for the filter whose hash is Filter.
type Cursor struct {
	// Offset is the edge's zero-based position in the pinned list.
	Offset int
	// Pin is the newest createdAt of the list when paging started; rows
	// created later are outside the pinned list. Millisecond precision.
	Pin time.Time
	// Filter is the hash of the filter the cursor was minted for.
	Filter uint64
}

func (c Cursor) pinned() time.Time { return c.Pin }

// errCursor is wrapped by every decoding error.
var errCursor = errors.New("invalid cursor")

// Encode returns the cursor's opaque string: base64url of a version byte,
// the offset and pin as varints, the filter hash and a checksum.
func (c Cursor) Encode() string {
	var buf [1 + 2*binary.MaxVarintLen64 + 8 + 4]byte
	b := append(buf[:0], cursorVersion)
	b = binary.AppendUvarint(b, uint64(c.Offset))
	b = binary.AppendVarint(b, c.Pin.UnixMilli())
	b = binary.BigEndian.AppendUint64(b, c.Filter)
	b = binary.BigEndian.AppendUint32(b, checksum(b))
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a cursor made by Encode. Any other input, including
// a cursor with a flipped character, is an error.
func DecodeCursor(s string) (Cursor, error) {
	if len(s) == 0 || len(s) > 64 {
		if _, err := DecodeMergeCursor(s); err == nil {
			return Cursor{}, fmt.Errorf("%w: it belongs to a connection merging several lists", errCursor)
		}
		return Cursor{}, fmt.Errorf("%w: wrong length", errCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, fmt.Errorf("%w: not base64url", errCursor)
	}
	if len(b) < 1+1+1+8+4 {
		return Cursor{}, fmt.Errorf("%w: too short", errCursor)
	}
	switch b[0] {
	case cursorVersion:
	case mergeCursorVersion:
		return Cursor{}, fmt.Errorf("%w: it belongs to a connection merging several lists", errCursor)
	default:
		return Cursor{}, fmt.Errorf("%w: unknown version %d", errCursor, b[0])
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if checksum(body) != sum {
		return Cursor{}, fmt.Errorf("%w: checksum mismatch", errCursor)
	}
	rest := body[1:]
	off, n := binary.Uvarint(rest)
	if n <= 0 || off > MaxOffset {
		return Cursor{}, fmt.Errorf("%w: bad offset", errCursor)
	}
	rest = rest[n:]
	pin, n := binary.Varint(rest)
	if n <= 0 || pin < 0 || pin > maxPinMillis {
		return Cursor{}, fmt.Errorf("%w: bad pin", errCursor)
	}
	rest = rest[n:]
	if len(rest) != 8 {
		return Cursor{}, fmt.Errorf("%w: bad length", errCursor)
	}
	c := Cursor{Offset: int(off), Pin: time.UnixMilli(pin).UTC(), Filter: binary.BigEndian.Uint64(rest)}
	// base64 decoding ignores newlines and unused trailing bits, and varints
	// may be overlong: only the one string Encode makes is a cursor.
	if c.Encode() != s {
		return Cursor{}, fmt.Errorf("%w: not canonical", errCursor)
	}
	return c, nil
}

// maxPinMillis is 9999-12-31T23:59:59.999Z.
const maxPinMillis = 253402300799999

// checksum guards against garbled cursors. It is not a signature: a cursor
// only ever names a position in a list the caller may read anyway.
func checksum(b []byte) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte("lemlist-graphql/cursor"))
	_, _ = h.Write(b)
	return h.Sum32()
}
