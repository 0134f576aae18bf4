// Package activityfilter holds what a client asks of lemlist's activities,
// before any paging or transport: the Filter (type, campaign, lead,
// isFirst, dates) and the InputError that names a bad argument.
//
// Both the GraphQL layer (graph, and graph/relay, which pages a Filter's
// list) and the live feed (feed, which polls a Filter's list and matches
// webhook activities against it) speak in these terms, so they live below
// both rather than in either: feed must not depend on pagination to say
// which activities it wants, and relay's cursors only bind to a Filter's
// Hash. The package depends on lemlist and the standard library only.
package activityfilter

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
)

// Filter is an activity filter after alias resolution (minDate over
// startDate, maxDate over endDate): the conditions lemlist applies to one
// list of activities.
type Filter struct {
	Type       string
	CampaignID string
	LeadID     string
	IsFirst    *bool
	// MinDate and MaxDate bound createdAt, inclusive; zero means unset.
	MinDate, MaxDate time.Time
}

// Validate reports a filter lemlist would refuse: a maxDate not after
// minDate (an *InputError on filter.maxDate).
func (f Filter) Validate() error {
	if !f.MinDate.IsZero() && !f.MaxDate.IsZero() && !f.MaxDate.After(f.MinDate) {
		return &InputError{Arg: "filter.maxDate", Msg: "must be after minDate"}
	}
	return nil
}

// Options returns the upstream options for rows [offset, offset+limit) of
// the list pinned at pin: only rows created at or before pin (zero: not
// pinned, the filter's own maxDate).
func (f Filter) Options(pin time.Time, offset, limit int) *lemlist.ActivityListOptions {
	o := &lemlist.ActivityListOptions{
		Type: f.Type, CampaignID: f.CampaignID, LeadID: f.LeadID, IsFirst: f.IsFirst,
		MinDate: f.MinDate, MaxDate: f.MaxDate, Offset: offset, Limit: limit,
	}
	if !pin.IsZero() && (o.MaxDate.IsZero() || pin.Before(o.MaxDate)) {
		o.MaxDate = pin
		if !o.MinDate.IsZero() && !o.MaxDate.After(o.MinDate) {
			// Every row sits at exactly minDate; lemlist wants max > min.
			o.MaxDate = o.MinDate.Add(time.Millisecond)
		}
	}
	return o
}

// Hash returns a stable hash of the filter: equal filters hash equally
// whatever their time zones, and cursors and caches bind to it.
func (f Filter) Hash() uint64 {
	h := fnv.New64a()
	w := func(k, v string) {
		// Length-prefixed, so no value can imitate another field.
		var n [binary.MaxVarintLen64]byte
		_, _ = h.Write([]byte(k))
		_, _ = h.Write(n[:binary.PutUvarint(n[:], uint64(len(v)))])
		_, _ = h.Write([]byte(v))
	}
	w("type", f.Type)
	w("campaign", f.CampaignID)
	w("lead", f.LeadID)
	if f.IsFirst != nil {
		w("first", strconv.FormatBool(*f.IsFirst))
	}
	if !f.MinDate.IsZero() {
		w("min", strconv.FormatInt(f.MinDate.UnixNano(), 10))
	}
	if !f.MaxDate.IsZero() {
		w("max", strconv.FormatInt(f.MaxDate.UnixNano(), 10))
	}
	return h.Sum64()
}

// InputError is a bad argument of a request for activities: a filter's
// field, a connection's first/after/last/before, or any other argument
// the client can correct. Arg names the argument as the client wrote it
// (filter.maxDate, after); graph's error presenter reports it as
// BAD_USER_INPUT.
type InputError struct {
	Arg string
	Msg string
}

// Error returns "arg: message".
func (e *InputError) Error() string { return fmt.Sprintf("%s: %s", e.Arg, e.Msg) }
