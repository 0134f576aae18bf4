package graph

// Query.activityStats: counts of activities by type, channel, day,
// campaign and user, and email rates per campaign.
//
// lemlist has no aggregate endpoint, so the counts come from reading the
// selected activities (relay.Scanner: the merge of one list per type,
// newest first, 100 rows per call, pinned so that the scan sees one
// snapshot), within a budget of calls. A scan the budget cuts short is
// partial, and still exact for every activity newer than the last one it
// read. The price of a full scan is learned beforehand with the galloping
// search that finds each list's length.
//
// Answers are kept in a StatsCache per tenant and arguments for the cache
// TTL; the pages behind them also go through the tenant's upstream cache.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones for DAY keys, even without a system zoneinfo

	"github.com/99designs/gqlgen/graphql"

	"github.com/lemlist-graphql/server/activityfilter"
	"github.com/lemlist-graphql/server/graph/loaders"
	"github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/graph/relay"
	"github.com/lemlist-graphql/server/internal/lru"
	"github.com/lemlist-graphql/server/lemlist"
)

// Bounds of activityStats' maxUpstreamCalls.
const (
	DefaultStatsCalls = 50
	MaxStatsCalls     = 500
)

// maxCachedGroups bounds the answers a StatsCache keeps: larger ones (tens
// of thousands of day × user × campaign groups) are recomputed.
const maxCachedGroups = 10_000

// statsQuery is a validated activityStats call.
type statsQuery struct {
	streams []activityfilter.Filter
	dims    []model.StatsGroup // canonical: AllStatsGroup order, no duplicates
	loc     *time.Location
	budget  int
}

// newStatsQuery validates activityStats' arguments without calling
// upstream.
func newStatsQuery(in *model.ActivityFilter, groupBy []model.StatsGroup, tz *string, maxCalls *int) (*statsQuery, error) {
	streams, err := toStreams(in, scope{})
	if err != nil {
		return nil, err
	}
	q := &statsQuery{streams: streams, loc: time.UTC, budget: DefaultStatsCalls}
	for _, g := range model.AllStatsGroup {
		if slices.Contains(groupBy, g) {
			q.dims = append(q.dims, g)
		}
	}
	if q.loc, err = parseZone(tz); err != nil {
		return nil, err
	}
	if maxCalls != nil {
		q.budget = *maxCalls
	}
	if q.budget < 1 || q.budget > MaxStatsCalls {
		return nil, &activityfilter.InputError{Arg: "maxUpstreamCalls", Msg: fmt.Sprintf("must be 1 to %d, got %d", MaxStatsCalls, q.budget)}
	}
	// A merge needs a probe and a first page of every list before it can
	// count anything.
	if need := len(streams) + 1; len(streams) > 1 && q.budget < need {
		return nil, &activityfilter.InputError{Arg: "maxUpstreamCalls", Msg: fmt.Sprintf("must be at least %d: the filter merges %d upstream lists, each needing a call, plus one", need, len(streams))}
	}
	return q, nil
}

// parseZone reads a timezone argument: UTC when nil.
func parseZone(tz *string) (*time.Location, error) {
	if tz == nil {
		return time.UTC, nil
	}
	// LoadLocation also takes "" and "Local" (this server's zone), and
	// reads files: only IANA names are let through.
	name := *tz
	if name == "" || name == "Local" || len(name) > 64 || strings.Contains(name, "..") {
		return nil, &activityfilter.InputError{Arg: "timezone", Msg: "must be an IANA time zone name such as Europe/Paris"}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, &activityfilter.InputError{Arg: "timezone", Msg: fmt.Sprintf("unknown IANA time zone %q", name)}
	}
	return loc, nil
}

// statsWants is what the selection of an ActivityStats needs.
type statsWants struct {
	scan, estimate bool
}

// statsSelection reads the selection: the estimate only for
// estimatedUpstreamCalls, the scan for any count. Fields that describe
// the call itself (timezone, cached, upstreamCalls, asOf, partial) need
// neither.
func statsSelection(ctx context.Context) statsWants {
	var w statsWants
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		switch f.Name {
		case "estimatedUpstreamCalls":
			w.estimate = true
		case "timezone", "cached", "upstreamCalls", "asOf", "partial", "__typename":
		default:
			w.scan = true
		}
	}
	return w
}

// key identifies the answer of q for tenant: the stream set (its hash
// covers every condition), the groups, the zone, the budget and what ran.
func (q *statsQuery) key(tenant string, w statsWants) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(tenant)))
	b.WriteByte(':')
	b.WriteString(tenant)
	for _, f := range q.streams {
		b.WriteByte('/')
		b.WriteString(strconv.FormatUint(f.Hash(), 16))
	}
	b.WriteByte('|')
	for _, d := range q.dims {
		b.WriteString(string(d))
		b.WriteByte(',')
	}
	fmt.Fprintf(&b, "|%s|%d|%t|%t", q.loc.String(), q.budget, w.scan, w.estimate)
	return b.String()
}

// run computes the answer: the estimate and the scan the selection wants,
// within the budget.
func (q *statsQuery) run(ctx context.Context, list relay.Lister, w statsWants, concurrency int) (*model.ActivityStats, error) {
	res := &model.ActivityStats{
		Groups:        []*model.ActivityStatsGroup{},
		CampaignRates: []*model.CampaignEmailRates{},
		Timezone:      q.loc.String(),
		Source:        model.StatsSourceUpstream,
	}
	sc := relay.NewScanner(list, q.streams, q.budget, concurrency)
	if w.estimate {
		est, err := sc.Estimate(ctx)
		switch {
		case errors.Is(err, relay.ErrBudget):
			res.Partial = true
		case err != nil:
			return nil, fmt.Errorf("estimate activity stats: %w", err)
		default:
			res.EstimatedUpstreamCalls = &est
		}
	}
	if w.scan {
		agg := newStatsAgg(q.dims, q.loc)
		sr, err := sc.Scan(ctx, agg.add)
		if err != nil {
			return nil, fmt.Errorf("scan activity stats: %w", err)
		}
		agg.fill(res)
		res.Partial = sr.Partial
		if sr.Partial && !sr.CoveredFrom.IsZero() {
			t := sr.CoveredFrom
			res.CoveredFrom = &t
		}
	}
	res.UpstreamCalls = sc.Calls()
	if pin := sc.Pin(); !pin.IsZero() {
		res.AsOf = &pin
	}
	return res, nil
}

// activityStats answers Query.activityStats: from the mirror when it
// covers the filter's range (mirrorStats), else by a scan.
func (r *Resolver) activityStats(ctx context.Context, in *model.ActivityFilter, groupBy []model.StatsGroup, tz *string, maxCalls *int) (*model.ActivityStats, error) {
	in, conds, err := splitMirrorConds(in)
	if err != nil {
		return nil, err
	}
	q, err := newStatsQuery(in, groupBy, tz, maxCalls)
	if err != nil {
		return nil, err
	}
	if res, err := r.mirrorStats(ctx, q, conds); res != nil || err != nil {
		return res, err
	}
	w := statsSelection(ctx)
	l := loaders.For(ctx)
	var key string
	if r.Stats != nil && l.Tenant != "" {
		key = q.key(l.Tenant, w)
		if res, ok := r.Stats.get(key); ok {
			return res, nil
		}
	}
	d := newScanDeadline(ctx) // statsdeadline.go: partial, not failed, near the deadline
	defer d.stop()
	res, err := q.run(d.ctx, d.list(l.Upstream.ListActivities), w, r.concurrency())
	if err != nil {
		return nil, err
	}
	if key != "" && !d.cutShort() {
		r.Stats.put(key, res)
	}
	return res, nil
}

// statsKey is a group's key; empty strings are nulls.
type statsKey struct {
	typ, channel, day, campaign, user string
}

// campaignAgg gathers one campaign's email counts.
type campaignAgg struct {
	sentLeads, openedLeads map[string]struct{}
	sent, opened, replied  int
}

// statsAgg counts activities into groups and campaign rates.
type statsAgg struct {
	dims      []model.StatsGroup
	loc       *time.Location
	total     int
	groups    map[statsKey]int
	campaigns map[string]*campaignAgg
}

func newStatsAgg(dims []model.StatsGroup, loc *time.Location) *statsAgg {
	return &statsAgg{dims: dims, loc: loc, groups: map[statsKey]int{}, campaigns: map[string]*campaignAgg{}}
}

// leadOf is the activity's lead id, from its leadId or its lead snapshot.
func leadOf(a *lemlist.Activity) string {
	if a.LeadID != "" {
		return a.LeadID
	}
	if a.Lead != nil {
		return a.Lead.ID
	}
	return ""
}

func (s *statsAgg) add(a *lemlist.Activity) {
	s.total++
	var k statsKey
	for _, d := range s.dims {
		switch d {
		case model.StatsGroupType:
			k.typ = a.Type
		case model.StatsGroupChannel:
			k.channel = string(model.ChannelOf(a.Type))
		case model.StatsGroupDay:
			k.day = a.CreatedAt.In(s.loc).Format(time.DateOnly)
		case model.StatsGroupCampaign:
			k.campaign = a.CampaignID
		case model.StatsGroupUser:
			if u := model.UserFromActivity(a); u != nil {
				k.user = u.ID
			}
		}
	}
	s.groups[k]++
	switch a.Type {
	case lemlist.TypeEmailsSent, lemlist.TypeEmailsOpened, lemlist.TypeEmailsReplied:
	default:
		return
	}
	if a.CampaignID == "" {
		return
	}
	c := s.campaigns[a.CampaignID]
	if c == nil {
		c = &campaignAgg{sentLeads: map[string]struct{}{}, openedLeads: map[string]struct{}{}}
		s.campaigns[a.CampaignID] = c
	}
	lead := leadOf(a)
	switch a.Type {
	case lemlist.TypeEmailsSent:
		c.sent++
		if lead != "" {
			c.sentLeads[lead] = struct{}{}
		}
	case lemlist.TypeEmailsOpened:
		c.opened++
		if lead != "" {
			c.openedLeads[lead] = struct{}{}
		}
	case lemlist.TypeEmailsReplied:
		c.replied++
	}
}

// fill writes the counts into res, in the order the schema documents.
func (s *statsAgg) fill(res *model.ActivityStats) {
	res.Total, res.ScannedActivities = s.total, s.total
	keys := make([]statsKey, 0, len(s.groups))
	for k := range s.groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b statsKey) int {
		return cmp.Or(
			cmp.Compare(a.typ, b.typ), cmp.Compare(a.channel, b.channel), cmp.Compare(a.day, b.day),
			cmp.Compare(a.campaign, b.campaign), cmp.Compare(a.user, b.user))
	})
	res.Groups = make([]*model.ActivityStatsGroup, len(keys))
	for i, k := range keys {
		key := statsKeyOf(k.typ, k.channel, k.day, k.campaign, k.user)
		res.Groups[i] = &model.ActivityStatsGroup{Key: key, Count: s.groups[k]}
	}
	ids := make([]string, 0, len(s.campaigns))
	for id := range s.campaigns {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	res.CampaignRates = make([]*model.CampaignEmailRates, len(ids))
	for i, id := range ids {
		c := s.campaigns[id]
		res.CampaignRates[i] = withRates(&model.CampaignEmailRates{
			CampaignID: id, LeadsSent: len(c.sentLeads), LeadsOpened: len(c.openedLeads),
			EmailsSent: c.sent, EmailsReplied: c.replied,
		})
	}
}

// withRates sets r's openRate and replyRate from its counts.
func withRates(r *model.CampaignEmailRates) *model.CampaignEmailRates {
	if r.LeadsSent > 0 {
		v := float64(r.LeadsOpened) / float64(r.LeadsSent)
		r.OpenRate = &v
	}
	if r.EmailsSent > 0 {
		v := float64(r.EmailsReplied) / float64(r.EmailsSent)
		r.ReplyRate = &v
	}
	return r
}

// statsKeyOf is a group key; empty strings are nulls.
func statsKeyOf(typ, channel, day, campaign, user string) *model.ActivityStatsKey {
	key := &model.ActivityStatsKey{Type: optional(typ), Day: optional(day), CampaignID: optional(campaign), UserID: optional(user)}
	if channel != "" {
		ch := model.ActivityChannel(channel)
		key.Channel = &ch
	}
	return key
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// StatsCache keeps activityStats answers per tenant and arguments for a
// TTL, in a bounded LRU. It is safe for concurrent use.
type StatsCache struct {
	lru *lru.Cache[string, *model.ActivityStats]
}

// NewStatsCache returns a cache keeping up to maxEntries answers for ttl
// (the server's cache TTL), or nil, which caches nothing, when ttl or
// maxEntries is not positive.
func NewStatsCache(ttl time.Duration, maxEntries int) *StatsCache {
	if ttl <= 0 || maxEntries <= 0 {
		return nil
	}
	return &StatsCache{lru: lru.New(lru.Options[string, *model.ActivityStats]{MaxEntries: maxEntries, TTL: ttl})}
}

// get returns a copy of the answer under key, marked cached.
func (c *StatsCache) get(key string) (*model.ActivityStats, bool) {
	kept, ok := c.lru.Get(key)
	if !ok {
		return nil, false
	}
	res := *kept // groups and rates are shared and never written
	res.Cached = true
	return &res, true
}

func (c *StatsCache) put(key string, res *model.ActivityStats) {
	if len(res.Groups) > maxCachedGroups {
		return
	}
	c.lru.Add(key, res)
}
