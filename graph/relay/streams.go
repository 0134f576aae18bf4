package relay

import (
	"encoding/binary"
	"hash/fnv"
	"slices"
	"time"

	"github.com/lemlist-graphql/server/activityfilter"
)

// MaxStreams bounds the streams one merged connection reads.
const MaxStreams = 64

// Streams returns the streams of a merged list: base with Type set to each
// of types (none: base's own Type) and LeadID set to each of leads (none:
// base's own LeadID). The order is canonical and duplicates are dropped.
func Streams(base activityfilter.Filter, types, leads []string) []activityfilter.Filter {
	if len(types) == 0 {
		types = []string{base.Type}
	}
	if len(leads) == 0 {
		leads = []string{base.LeadID}
	}
	out := make([]activityfilter.Filter, 0, len(types)*len(leads))
	for _, t := range types {
		for _, l := range leads {
			f := base
			f.Type, f.LeadID = t, l
			out = append(out, f)
		}
	}
	return canonical(out)
}

// CheckStreams refuses a merge of more than MaxStreams streams, with an
// InputError on filter: the one check of that bound, which PaginateMerged
// makes and callers that merge otherwise (a Scanner) make first.
func CheckStreams(streams []activityfilter.Filter) error {
	if len(streams) > MaxStreams {
		return inputErr("filter", "merges %d upstream lists (types × leads), at most %d: narrow types, channel or campaignId", len(streams), MaxStreams)
	}
	return nil
}

// canonical returns streams sorted by hash without duplicates, so that the
// same set always gets the same stream numbers.
func canonical(streams []activityfilter.Filter) []activityfilter.Filter {
	out := slices.Clone(streams)
	slices.SortFunc(out, func(a, b activityfilter.Filter) int {
		ha, hb := a.Hash(), b.Hash()
		switch {
		case ha < hb:
			return -1
		case ha > hb:
			return 1
		}
		return 0
	})
	return slices.CompactFunc(out, func(a, b activityfilter.Filter) bool { return a.Hash() == b.Hash() })
}

// mergeHash is the hash a merged list's cursors are bound to: that of its
// canonical stream set.
func mergeHash(streams []activityfilter.Filter) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("lemlist-graphql/merge"))
	var b [8]byte
	for _, s := range streams {
		binary.BigEndian.PutUint64(b[:], s.Hash())
		_, _ = h.Write(b[:])
	}
	return h.Sum64()
}

// common returns the conditions f and g share: a filter selecting every
// row of both.
func common(f, g activityfilter.Filter) activityfilter.Filter {
	if f.Type != g.Type {
		f.Type = ""
	}
	if f.CampaignID != g.CampaignID {
		f.CampaignID = ""
	}
	if f.LeadID != g.LeadID {
		f.LeadID = ""
	}
	if f.IsFirst != nil && (g.IsFirst == nil || *f.IsFirst != *g.IsFirst) {
		f.IsFirst = nil
	}
	if !f.MinDate.Equal(g.MinDate) {
		f.MinDate = time.Time{}
	}
	if !f.MaxDate.Equal(g.MaxDate) {
		f.MaxDate = time.Time{}
	}
	return f
}
