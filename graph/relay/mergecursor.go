package relay

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"
)

// mergeCursorVersion is the first byte of a merged list's cursor.
const mergeCursorVersion = 2

// maxMergeCursorLen bounds an encoded merged cursor: MaxStreams offsets of
// at most 4 varint bytes each, plus the fixed parts, in base64.
const maxMergeCursorLen = 400

// MergeCursor is the decoded form of a merged list's cursor.
type MergeCursor struct {
	// Pos holds, per stream, how many of its rows precede the edge.
	Pos []int
	// Stream is the edge's stream: the edge is row Pos[Stream] of it.
	Stream int
	// Pin is the pin of every stream, as in Cursor.
	Pin time.Time
	// Filter is the hash of the stream set.
	Filter uint64
}

func (c MergeCursor) pinned() time.Time { return c.Pin }

// Encode returns the cursor's opaque string: base64url of version 2, the
// number of streams, the offsets, the edge's stream and the pin as
// varints, then the stream set's hash and a checksum.
func (c MergeCursor) Encode() string {
	b := make([]byte, 0, 2+len(c.Pos)*4+binary.MaxVarintLen64+1+8+4)
	b = append(b, mergeCursorVersion)
	b = binary.AppendUvarint(b, uint64(len(c.Pos)))
	for _, off := range c.Pos {
		b = binary.AppendUvarint(b, uint64(off))
	}
	b = binary.AppendUvarint(b, uint64(c.Stream))
	b = binary.AppendVarint(b, c.Pin.UnixMilli())
	b = binary.BigEndian.AppendUint64(b, c.Filter)
	b = binary.BigEndian.AppendUint32(b, checksum(b))
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeMergeCursor parses a cursor made by MergeCursor.Encode. Any other
// input, including a single list's cursor, is an error.
func DecodeMergeCursor(s string) (MergeCursor, error) {
	if len(s) == 0 || len(s) > maxMergeCursorLen {
		return MergeCursor{}, fmt.Errorf("%w: wrong length", errCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return MergeCursor{}, fmt.Errorf("%w: not base64url", errCursor)
	}
	if len(b) < 1+1+1+1+8+4 {
		return MergeCursor{}, fmt.Errorf("%w: too short", errCursor)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if checksum(body) != sum {
		return MergeCursor{}, fmt.Errorf("%w: checksum mismatch", errCursor)
	}
	switch b[0] {
	case mergeCursorVersion:
	case cursorVersion:
		return MergeCursor{}, fmt.Errorf("%w: it belongs to a single list, and this connection merges several", errCursor)
	default:
		return MergeCursor{}, fmt.Errorf("%w: unknown version %d", errCursor, b[0])
	}
	rest := body[1:]
	uvarint := func(limit uint64) (int, bool) {
		v, n := binary.Uvarint(rest)
		if n <= 0 || v > limit {
			return 0, false
		}
		rest = rest[n:]
		return int(v), true
	}
	k, ok := uvarint(MaxStreams)
	if !ok || k == 0 {
		return MergeCursor{}, fmt.Errorf("%w: bad stream count", errCursor)
	}
	c := MergeCursor{Pos: make([]int, k)}
	for i := range c.Pos {
		if c.Pos[i], ok = uvarint(MaxOffset); !ok {
			return MergeCursor{}, fmt.Errorf("%w: bad offset", errCursor)
		}
	}
	if c.Stream, ok = uvarint(uint64(k - 1)); !ok {
		return MergeCursor{}, fmt.Errorf("%w: bad stream", errCursor)
	}
	pin, n := binary.Varint(rest)
	if n <= 0 || pin < 0 || pin > maxPinMillis {
		return MergeCursor{}, fmt.Errorf("%w: bad pin", errCursor)
	}
	rest = rest[n:]
	if len(rest) != 8 {
		return MergeCursor{}, fmt.Errorf("%w: bad length", errCursor)
	}
	c.Pin, c.Filter = time.UnixMilli(pin).UTC(), binary.BigEndian.Uint64(rest)
	if c.Encode() != s {
		return MergeCursor{}, fmt.Errorf("%w: not canonical", errCursor)
	}
	return c, nil
}
