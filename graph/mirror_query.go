package graph

// The questions the mirror answers (issue 12): mirrorStatus,
// activityStats when the mirror covers the filter's range, and
// activitySeries, which only the mirror answers.
//
// A mirror answer equals the scan's for the same filter: the filter goes
// through the same validation (toStreams), and its types are the union of
// the streams' types, so that a channel stands for the same known types
// in both.
//
// The conditions lemlist cannot apply (campaignIds, userId) are fields of
// ActivityFilter, so that a dashboard sends one filter to activityStats,
// activitySeries and activities alike (and activityStats keeps the
// arguments the gateway's complexity function knows). activityStats and
// activitySeries split them off (splitMirrorConds) before the filter goes
// the usual way; toFilter, which every list and subscription goes
// through, refuses them (UNSUPPORTED_FILTER).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/graph/loaders"
	"github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/mirror"
)

// Bounds of a MirrorFilter and of an activitySeries answer.
const (
	MaxMirrorCampaigns = 100
	// MaxSeriesPoints bounds buckets × series of one activitySeries.
	MaxSeriesPoints = 200_000
)

// engine returns the mirror of the request's tenant, or nil when it is off.
func (r *Resolver) engine(ctx context.Context) *mirror.Engine {
	if r.Mirror == nil {
		return nil
	}
	return r.Mirror.For(loaders.For(ctx).Tenant)
}

// mirrorStatus answers Query.mirrorStatus.
func (r *Resolver) mirrorStatus(ctx context.Context) (*model.MirrorStatus, error) {
	e := r.engine(ctx)
	if e == nil {
		return &model.MirrorStatus{State: model.MirrorStateOff}, nil
	}
	st, err := e.Status(ctx)
	res := &model.MirrorStatus{
		State:            model.MirrorState(st.State),
		Activities:       st.Activities,
		CoversAllTime:    st.AllTime,
		LastReconciledAt: optionalTime(st.LastReconciledAt),
		LastError:        optional(st.LastError),
		Syncing:          st.Syncing,
	}
	if err != nil {
		// The store failed to answer: that is the mirror's state now.
		res.State, res.LastError = model.MirrorStateFailing, optional(err.Error())
	}
	if !st.CoveredTo.IsZero() {
		res.CoveredFrom, res.CoveredTo = optionalTime(st.CoveredFrom), optionalTime(st.CoveredTo)
		lag, progress := st.Lag.Seconds(), st.BackfillProgress
		res.LagSeconds, res.BackfillProgress = &lag, &progress
	}
	return res, nil
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// mirrorConds are the conditions of an ActivityFilter that lemlist
// cannot apply; its zero value sets none.
type mirrorConds struct {
	campaigns []string // sorted, distinct
	user      string
}

func (c mirrorConds) set() bool { return c.campaigns != nil || c.user != "" }

// splitMirrorConds validates the conditions of in that only the mirror
// applies, and returns them apart from a copy of in without them, which
// toStreams takes as any other filter.
func splitMirrorConds(in *model.ActivityFilter) (*model.ActivityFilter, mirrorConds, error) {
	var c mirrorConds
	if in == nil || (in.CampaignIds == nil && in.UserID == nil) {
		return in, c, nil
	}
	if in.CampaignIds != nil {
		if n := len(in.CampaignIds); n == 0 || n > MaxMirrorCampaigns {
			return nil, c, &activityfilter.InputError{Arg: "filter.campaignIds", Msg: fmt.Sprintf("give 1 to %d campaign ids, got %d", MaxMirrorCampaigns, n)}
		}
		for _, id := range in.CampaignIds {
			if err := checkID("filter.campaignIds", id); err != nil {
				return nil, c, err
			}
		}
		c.campaigns = slices.Compact(slices.Sorted(slices.Values(in.CampaignIds)))
	}
	if in.UserID != nil {
		if err := checkID("filter.userId", *in.UserID); err != nil {
			return nil, c, err
		}
		c.user = *in.UserID
	}
	rest := *in
	rest.CampaignIds, rest.UserID = nil, nil
	return &rest, c, nil
}

// refuseMirrorConds refuses the conditions only the mirror applies, in a
// filter for lemlist (lists, subscriptions).
func refuseMirrorConds(in *model.ActivityFilter) error {
	switch {
	case in == nil:
		return nil
	case in.CampaignIds != nil:
		return &UnsupportedFilterError{Arg: "filter.campaignIds", Msg: "lemlist cannot filter activities by several campaigns: give campaignId, or count with activityStats or activitySeries"}
	case in.UserID != nil:
		return &UnsupportedFilterError{Arg: "filter.userId", Msg: "lemlist cannot filter activities by team member: count them with activityStats or activitySeries"}
	}
	return nil
}

// mirrorFilterOf is the mirror's filter for the validated streams of an
// ActivityFilter and the conditions c. none is true when nothing can
// match: no stream, or a campaignId outside campaignIds.
func mirrorFilterOf(streams []activityfilter.Filter, c mirrorConds) (f mirror.Filter, none bool) {
	if len(streams) == 0 {
		return f, true
	}
	s := streams[0] // streams differ only in their type at the root
	f = mirror.Filter{LeadID: s.LeadID, IsFirst: s.IsFirst, From: s.MinDate, To: s.MaxDate}
	for _, st := range streams {
		if st.Type == "" {
			f.Types = nil
			break
		}
		f.Types = append(f.Types, st.Type)
	}
	switch {
	case s.CampaignID != "" && c.campaigns != nil:
		if !slices.Contains(c.campaigns, s.CampaignID) {
			return f, true
		}
		f.CampaignIDs = []string{s.CampaignID}
	case s.CampaignID != "":
		f.CampaignIDs = []string{s.CampaignID}
	default:
		f.CampaignIDs = c.campaigns
	}
	if c.user != "" {
		f.UserIDs = []string{c.user}
	}
	return f, false
}

// covering returns the tenant's mirror and its status when the mirror
// holds every activity created from from on (zero: all time); otherwise
// the error says why not: ErrMirrorUnavailable or ErrMirrorNotCovered
// (or the store's failure to report its status).
func (r *Resolver) covering(ctx context.Context, from time.Time) (*mirror.Engine, mirror.Status, error) {
	e := r.engine(ctx)
	if e == nil {
		return nil, mirror.Status{}, ErrMirrorUnavailable
	}
	st, err := e.Status(ctx)
	if err != nil {
		return nil, st, fmt.Errorf("mirror status: %w", err)
	}
	// With AllTime, lemlist has nothing older than coveredFrom: a range
	// that starts earlier is covered too (Covers keeps to coveredFrom).
	if !st.Covers(from) && !(st.AllTime && !st.CoveredTo.IsZero()) {
		switch {
		case st.CoveredTo.IsZero():
			return nil, st, fmt.Errorf("%w: its first sync has not run", ErrMirrorNotCovered)
		case from.IsZero():
			return nil, st, fmt.Errorf("%w: all time is covered once the backfill has read the whole history; it holds every activity from %s on", ErrMirrorNotCovered, st.CoveredFrom.UTC().Format(model.DateTimeLayout))
		}
		return nil, st, fmt.Errorf("%w: it holds every activity from %s on", ErrMirrorNotCovered, st.CoveredFrom.UTC().Format(model.DateTimeLayout))
	}
	return e, st, nil
}

// mirrorStats answers activityStats from the mirror when it covers the
// filter's range. It returns nil and no error to have the caller scan
// upstream: the mirror is off, does not cover the range, or failed (a
// broken store must not break stats). With conditions only the mirror can
// apply, those are errors (ErrMirrorRequired) instead.
func (r *Resolver) mirrorStats(ctx context.Context, q *statsQuery, c mirrorConds) (*model.ActivityStats, error) {
	var from time.Time
	if len(q.streams) > 0 {
		from = q.streams[0].MinDate
	}
	e, st, err := r.covering(ctx, from)
	if err != nil {
		if c.set() {
			return nil, fmt.Errorf("%w: %w", ErrMirrorRequired, err)
		}
		return nil, nil
	}
	res := &model.ActivityStats{
		Groups:        []*model.ActivityStatsGroup{},
		CampaignRates: []*model.CampaignEmailRates{},
		Timezone:      q.loc.String(),
		Source:        model.StatsSourceMirror,
		AsOf:          optionalTime(st.CoveredTo),
	}
	f, none := mirrorFilterOf(q.streams, c)
	if none {
		return res, nil
	}
	dims := make([]mirror.Dim, len(q.dims))
	for i, d := range q.dims {
		dims[i] = mirror.Dim(d)
	}
	ms, err := e.Stats(ctx, mirror.StatsQuery{Filter: f, GroupBy: dims, Location: q.loc, Rates: selects(ctx, "campaignRates")})
	if err != nil {
		if c.set() {
			return nil, fmt.Errorf("mirror stats: %w", err)
		}
		return nil, nil // a broken store: scan upstream

	}
	res.Total, res.ScannedActivities = ms.Total, ms.Total
	res.Groups = make([]*model.ActivityStatsGroup, len(ms.Groups))
	for i, g := range ms.Groups {
		k := g.Key
		res.Groups[i] = &model.ActivityStatsGroup{Key: statsKeyOf(k.Type, k.Channel, k.Day, k.CampaignID, k.UserID), Count: g.Count}
	}
	res.CampaignRates = make([]*model.CampaignEmailRates, len(ms.CampaignRates))
	for i, cr := range ms.CampaignRates {
		res.CampaignRates[i] = withRates(&model.CampaignEmailRates{
			CampaignID: cr.CampaignID, LeadsSent: cr.LeadsSent, LeadsOpened: cr.LeadsOpened,
			EmailsSent: cr.EmailsSent, EmailsReplied: cr.EmailsReplied,
		})
	}
	return res, nil
}

// selects reports whether the current object's selection has field.
func selects(ctx context.Context, field string) bool {
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == field {
			return true
		}
	}
	return false
}

// seriesArgs are activitySeries' arguments.
type seriesArgs struct {
	filter   *model.ActivityFilter
	from, to time.Time
	interval model.SeriesInterval
	timezone *string
	groupBy  []model.StatsGroup
}

// activitySeries answers Query.activitySeries, from the mirror only.
func (r *Resolver) activitySeries(ctx context.Context, a seriesArgs) (*model.ActivitySeries, error) {
	in, conds, err := splitMirrorConds(a.filter)
	if err != nil {
		return nil, err
	}
	streams, err := toStreams(in, scope{})
	if err != nil {
		return nil, err
	}
	loc, err := parseZone(a.timezone)
	if err != nil {
		return nil, err
	}
	iv := mirror.Interval(a.interval)
	if !iv.Valid() {
		return nil, &activityfilter.InputError{Arg: "interval", Msg: "must be HOUR, DAY, WEEK or MONTH"}
	}
	var dims []mirror.Dim
	for _, g := range model.AllStatsGroup {
		if !slices.Contains(a.groupBy, g) {
			continue
		}
		if g == model.StatsGroupDay {
			return nil, &activityfilter.InputError{Arg: "groupBy", Msg: "DAY is the interval's job: use interval: DAY"}
		}
		dims = append(dims, mirror.Dim(g))
	}
	if a.to.Before(a.from) {
		return nil, &activityfilter.InputError{Arg: "to", Msg: "must not be before from"}
	}
	starts, err := mirror.Buckets(a.from, a.to, iv, loc)
	if err != nil {
		return nil, &activityfilter.InputError{Arg: "interval", Msg: fmt.Sprintf("[from, to] holds more than %d %s buckets: widen the interval or narrow the range", mirror.MaxBuckets, iv)}
	}
	starts = starts[:len(starts)-1] // the last is the end of the last bucket

	f, none := mirrorFilterOf(streams, conds)
	// The filter's own dates narrow [from, to]; the buckets stay those of
	// [from, to].
	f.From, f.To = later(a.from, f.From), earlier(a.to, f.To)
	e, st, err := r.covering(ctx, f.From)
	if err != nil {
		return nil, err
	}
	res := &model.ActivitySeries{
		Interval: a.interval,
		Timezone: loc.String(),
		Buckets:  make([]*time.Time, len(starts)),
		Series:   []*model.ActivitySeriesLine{},
		AsOf:     optionalTime(st.CoveredTo),
	}
	for i := range starts {
		res.Buckets[i] = &starts[i]
	}
	if none || f.To.Before(f.From) {
		if len(dims) == 0 { // one series, of zeros
			res.Series = append(res.Series, &model.ActivitySeriesLine{Key: &model.ActivityStatsKey{}, Counts: make([]int, len(starts))})
		}
		return res, nil
	}
	ms, err := e.Series(ctx, mirror.SeriesQuery{Filter: f, Interval: iv, Location: loc, GroupBy: dims})
	if err != nil {
		return nil, fmt.Errorf("mirror series: %w", err)
	}
	if len(ms.Starts) != len(starts) {
		return nil, fmt.Errorf("mirror series: %d buckets, want %d", len(ms.Starts), len(starts))
	}
	if n := len(ms.Lines) * len(starts); n > MaxSeriesPoints {
		return nil, &activityfilter.InputError{Arg: "groupBy", Msg: fmt.Sprintf("%d series × %d buckets is over %d counts: narrow the filter, the range or groupBy", len(ms.Lines), len(starts), MaxSeriesPoints)}
	}
	res.Series = make([]*model.ActivitySeriesLine, len(ms.Lines))
	for i, l := range ms.Lines {
		k := l.Key
		line := &model.ActivitySeriesLine{Key: statsKeyOf(k.Type, k.Channel, "", k.CampaignID, k.UserID), Counts: l.Counts}
		for _, n := range l.Counts {
			line.Total += n
		}
		res.Total += line.Total
		res.Series[i] = line
	}
	return res, nil
}

// later returns the later of a and b, ignoring a zero b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// earlier returns the earlier of a and b, ignoring a zero b.
func earlier(a, b time.Time) time.Time {
	if !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// keyCampaign answers a campaign known by id (nil: none), fetching it
// (through the request's loader, shared by every key) only when more than
// its id is selected.
func keyCampaign(ctx context.Context, id *string) (*model.Campaign, error) {
	if id == nil || *id == "" {
		return nil, nil
	}
	return campaignRef(ctx, &model.Campaign{ID: *id})
}

// keyUser answers a team member known by id (nil: none), reading the
// team (one call per request) only when more than the id is selected.
func keyUser(ctx context.Context, id *string) (*model.User, error) {
	if id == nil || *id == "" {
		return nil, nil
	}
	u := &model.User{ID: *id}
	if covered(ctx, u.Has) {
		return u, nil
	}
	full, err := loaders.For(ctx).User(ctx, u.ID)
	if errors.Is(err, loaders.ErrNotFound) {
		return u, nil // left the team: the id is all there is
	}
	if err != nil {
		return nil, fmt.Errorf("load team users: %w", err)
	}
	return model.UserFromLemlist(full), nil
}
