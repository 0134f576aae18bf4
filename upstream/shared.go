package upstream

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
)

// DefaultSharedTimeout bounds each call to a Cache's SharedStore unless
// CacheOptions.SharedTimeout says otherwise.
const DefaultSharedTimeout = 250 * time.Millisecond

// SharedStore is a byte store shared between the replicas of the server
// (Redis: see package redisx), under a Cache's memory as a second level.
// The cache consults it on a miss in memory and writes every fill to it, so
// that an answer fetched by one replica serves the others.
//
// Keys are opaque strings naming a tenant's call; their tenant part is a
// TenantID, never an API key. Values are opaque bytes: the lemlist objects'
// upstream JSON (their Raw) behind a small header holding the format and the
// expiry. Set must keep val for ttl at most.
//
// The cache never fails a call because of its shared store: an error of Get
// is a miss, an error of Set is ignored. Implementations report their own
// failures (logs, health) and should fail fast while the store is down.
// They must be safe for concurrent use.
type SharedStore interface {
	// Get returns the value of key, and whether there is one.
	Get(ctx context.Context, key string) (val []byte, ok bool, err error)
	// Set stores val under key for ttl.
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
}

// SharedBatchStore is a SharedStore that reads and writes several entries
// in one round trip. The cache uses the batch methods for contacts, which
// it looks up and fills by batches of up to 100 ids.
type SharedBatchStore interface {
	SharedStore
	// GetMany returns the values of keys, nil for each key without one.
	GetMany(ctx context.Context, keys []string) ([][]byte, error)
	// SetMany stores each entry for its TTL.
	SetMany(ctx context.Context, entries []SharedEntry) error
}

// SharedEntry is an entry of SharedBatchStore.SetMany.
type SharedEntry struct {
	Key string
	Val []byte
	TTL time.Duration
}

// tieredStore is a memStore (L1) over a SharedStore (L2). A hit in L2 is
// decoded and kept in L1 until its original expiry.
type tieredStore struct {
	l1      *memStore
	l2      SharedStore
	batch   SharedBatchStore // l2, if it batches
	timeout time.Duration
	now     func() time.Time
}

func newTieredStore(l1 *memStore, l2 SharedStore, timeout time.Duration, now func() time.Time) *tieredStore {
	s := &tieredStore{l1: l1, l2: l2, timeout: timeout, now: now}
	s.batch, _ = l2.(SharedBatchStore)
	return s
}

func (s *tieredStore) get(ctx context.Context, k key) (*entry, bool) {
	if e, ok := s.l1.get(ctx, k); ok {
		return e, true
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	b, ok, err := s.l2.Get(ctx, k.String())
	if err != nil || !ok {
		return nil, false
	}
	return s.fill(ctx, k, b)
}

// fill decodes b, k's value in L2, and keeps it in L1 if it is live.
func (s *tieredStore) fill(ctx context.Context, k key, b []byte) (*entry, bool) {
	e, err := decodeEntry(k, b)
	if err != nil || !s.now().Before(e.expires) {
		return nil, false // a foreign or corrupt value is a miss
	}
	s.l1.put(ctx, k, e)
	return e, true
}

func (s *tieredStore) getMany(ctx context.Context, ks []key) []*entry {
	es := s.l1.getMany(ctx, ks)
	var miss []int // indexes in ks of L1 misses
	for i, e := range es {
		if e == nil {
			miss = append(miss, i)
		}
	}
	if len(miss) == 0 {
		return es
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if s.batch == nil || len(miss) == 1 {
		for _, i := range miss {
			if b, ok, err := s.l2.Get(ctx, ks[i].String()); err == nil && ok {
				es[i], _ = s.fill(ctx, ks[i], b)
			} else if err != nil {
				break // down or slow: the rest would fare no better
			}
		}
		return es
	}
	names := make([]string, len(miss))
	for j, i := range miss {
		names[j] = ks[i].String()
	}
	vals, err := s.batch.GetMany(ctx, names)
	if err != nil || len(vals) != len(miss) {
		return es
	}
	for j, i := range miss {
		if vals[j] != nil {
			es[i], _ = s.fill(ctx, ks[i], vals[j])
		}
	}
	return es
}

func (s *tieredStore) put(ctx context.Context, k key, e *entry) {
	s.l1.put(ctx, k, e)
	ttl := e.expires.Sub(s.now())
	if ttl <= 0 {
		return
	}
	b, err := encodeEntry(e)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_ = s.l2.Set(ctx, k.String(), b, ttl) // the store reports its failures
}

func (s *tieredStore) putMany(ctx context.Context, ks []key, es []*entry) {
	if s.batch == nil || len(ks) <= 1 {
		for i, k := range ks {
			s.put(ctx, k, es[i])
		}
		return
	}
	s.l1.putMany(ctx, ks, es)
	now := s.now()
	batch := make([]SharedEntry, 0, len(ks))
	for i, k := range ks {
		ttl := es[i].expires.Sub(now)
		if ttl <= 0 {
			continue
		}
		if b, err := encodeEntry(es[i]); err == nil {
			batch = append(batch, SharedEntry{Key: k.String(), Val: b, TTL: ttl})
		}
	}
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_ = s.batch.SetMany(ctx, batch)
}

func (s *tieredStore) size() (int, int64) { return s.l1.size() }

// The encoding of an entry in a SharedStore: a version byte, a tag byte, the
// expiry in Unix milliseconds (8 bytes, big-endian), then the payload: the
// value's JSON (its Raw) for tagValue, the error's fields for tagNotFound,
// nothing for tagAbsent.
const (
	sharedVersion = 1
	headerLen     = 10

	tagValue    = 'v' // val is set
	tagNotFound = 'n' // err is a remembered 404
	tagAbsent   = 'a' // a contact id lemlist does not know
)

// notFound is the encoding of a remembered 404.
type notFound struct {
	Status   int    `json:"status"`
	Endpoint string `json:"endpoint,omitempty"`
	Code     string `json:"code,omitempty"`
	Message  string `json:"message,omitempty"`
}

var errSharedFormat = errors.New("upstream: not a shared cache entry of this version")

// encodeEntry encodes e for a SharedStore.
func encodeEntry(e *entry) ([]byte, error) {
	tag, payload := byte(tagAbsent), []byte(nil)
	var err error
	switch {
	case e.err != nil:
		nf, ok := e.err.(*lemlist.ErrorResponse)
		if !ok {
			return nil, fmt.Errorf("upstream: cannot share error %T", e.err)
		}
		tag = tagNotFound
		payload, err = json.Marshal(notFound{nf.StatusCode, nf.Endpoint, nf.Code, nf.Message})
	case e.val != nil:
		tag = tagValue
		payload, err = json.Marshal(e.val) // Raw, for every cached type
	}
	if err != nil {
		return nil, err
	}
	b := make([]byte, headerLen, headerLen+len(payload))
	b[0], b[1] = sharedVersion, tag
	binary.BigEndian.PutUint64(b[2:], uint64(e.expires.UnixMilli()))
	return append(b, payload...), nil
}

// decodeEntry decodes the value of k in a SharedStore, rebuilding the
// lemlist values of k's kind (their Raw included) and the entry's size.
func decodeEntry(k key, b []byte) (*entry, error) {
	if len(b) < headerLen || b[0] != sharedVersion {
		return nil, errSharedFormat
	}
	e := &entry{expires: time.UnixMilli(int64(binary.BigEndian.Uint64(b[2:])))}
	payload := b[headerLen:]
	var err error
	switch b[1] {
	case tagAbsent:
		if k.kind != kindContacts {
			return nil, errSharedFormat
		}
	case tagNotFound:
		var nf notFound
		if err = json.Unmarshal(payload, &nf); err == nil {
			e.err = &lemlist.ErrorResponse{StatusCode: nf.Status, Endpoint: nf.Endpoint, Code: nf.Code, Message: nf.Message}
		}
	case tagValue:
		e.val, err = decodeValue(k.kind, payload)
	default:
		return nil, errSharedFormat
	}
	if err != nil {
		return nil, err
	}
	e.size = entrySize(k, e)
	return e, nil
}

// decodeValue decodes the JSON of a value of kind k.
func decodeValue(k kind, b []byte) (any, error) {
	switch k {
	case kindActivities:
		var rows []*lemlist.Activity
		err := json.Unmarshal(b, &rows)
		return slices.Clip(rows), err
	case kindLead:
		return decodeObject[lemlist.Lead](b)
	case kindContacts:
		return decodeObject[lemlist.Contact](b)
	case kindCampaign:
		return decodeObject[lemlist.Campaign](b)
	case kindTeam:
		return decodeObject[lemlist.Team](b)
	}
	return nil, errSharedFormat
}

func decodeObject[T any](b []byte) (any, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, err
	}
	return v, nil
}
