package graph

// The price of an operation in upstream calls, before it runs.
//
// Complexity prices rows; lemlist prices calls (20 per 2 s per key), and
// some selections make many calls for few rows: `last` without `before`
// finds a list's end by galloping probes, every type of `types` or
// `channel` is a list of its own, a contact merges one list per lead, a
// stats scan makes up to maxUpstreamCalls calls, and nested connections
// and lookups repeat for every row above them. EstimateUpstreamCalls
// walks the operation as the executor will (gqlgen's CollectFields, with
// the arguments and variables) and returns an upper bound of the calls
// the resolvers make: the server refuses an operation whose bound passes
// its limit, without any call, and stops an admitted one that would make
// more (UpstreamBudgetError).
//
// The bounds, per field, for m objects above it:
//
//   - a connection of k lists (1; one per type of `types` or `channel`; a
//     contact's lists per lead, at most relay.MaxStreams) and n rows: with
//     `first` (or neither), ⌈(n+1)/100⌉ calls per list, plus a probe for
//     the pin of a merge; with `last` and `before`, ⌈n/100⌉+2 per list;
//     with `last` alone, also the first read and the galloping search of
//     each list's end, which may run to relay.MaxOffset: 2·⌈log₂(offset
//     range / probe size)⌉+2 probes (findEndCalls). Its rows are m·n
//     objects for what is nested under them;
//   - a lead or a campaign fetched (by id, or for fields an activity's own
//     data may lack): one call each; contacts: one call per 100, plus one;
//     the team (users): one call;
//   - a contact's campaigns: relay.MaxStreams each, a contact's leads being
//     unknown before it is fetched;
//   - activityStats: its maxUpstreamCalls; the campaigns its groups, rates
//     or a series name, when more than their id is selected: one call each,
//     for at most assumedCampaigns of them;
//   - node, nodes and _entities: one lookup per id, and the dearest of the
//     types an id may name below it.
//
// Subscriptions are not priced: their events make their nested lookups
// one event at a time, for as long as they run.

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lemlist-graphql/server/graph/model"
	"github.com/lemlist-graphql/server/graph/relay"
	"github.com/lemlist-graphql/server/lemlist"
)

// CodeUpstreamBudgetExceeded refuses an operation whose estimated upstream
// calls exceed the server's limit (MAX_UPSTREAM_CALLS), or stops one that
// made as many calls as estimated.
const CodeUpstreamBudgetExceeded = "UPSTREAM_BUDGET_EXCEEDED"

// UpstreamBudgetError is an operation priced above the limit of upstream
// calls, refused before any call; with Stopped, an admitted operation
// whose calls reached its estimate, refused a further call. The error
// presenter gives its Estimate and Limit in extensions.
type UpstreamBudgetError struct {
	Estimate, Limit int
	Stopped         bool
}

// Error says what the limit was, or that the estimate was reached, and
// how to ask for less.
func (e *UpstreamBudgetError) Error() string {
	if e.Stopped {
		return fmt.Sprintf("the operation made the %d upstream calls it was estimated at: no more are made for it", e.Estimate)
	}
	return fmt.Sprintf("the operation may make %s upstream calls to lemlist, above this server's limit of %d: ask for fewer rows, types or aliases, use first rather than last without before, or lower maxUpstreamCalls",
		countString(e.Estimate), e.Limit)
}

// maxCost saturates estimates, which multiply along nested lists.
const maxCost = 1 << 40

func countString(n int) string {
	if n >= maxCost {
		return "more than " + strconv.Itoa(maxCost)
	}
	return strconv.Itoa(n)
}

func add(a, b int) int { return min(a+b, maxCost) }

func mul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if hi, lo := bits.Mul64(uint64(a), uint64(b)); hi != 0 || lo >= maxCost {
		return maxCost
	}
	return a * b
}

// EstimateUpstreamCalls returns at most how many calls of the request's
// Upstream operation oc makes (lookups the upstream cache answers
// included), maxPage being the server's cap on first and last (0:
// DefaultMaxPageSize). Subscriptions are 0.
func EstimateUpstreamCalls(oc *graphql.OperationContext, maxPage int) int {
	if oc == nil || oc.Operation == nil || oc.Operation.Operation == ast.Subscription {
		return 0
	}
	if maxPage <= 0 {
		maxPage = DefaultMaxPageSize
	}
	w := &costWalker{oc: oc, maxPage: maxPage}
	return w.object(oc.Operation.SelectionSet, "Query", 1)
}

// costWalker prices the selections of one operation.
type costWalker struct {
	oc      *graphql.OperationContext
	maxPage int
}

// schemaTypes are the object types of the schema that each abstract type
// (interface or union) may be, and the abstract types each object type
// satisfies, for CollectFields.
var schemaTypes = sync.OnceValues(func() (possible, satisfies map[string][]string) {
	s := parsedSchema
	possible, satisfies = map[string][]string{}, map[string][]string{}
	for name, def := range s.Types {
		if def.Kind != ast.Interface && def.Kind != ast.Union {
			continue
		}
		for _, t := range s.GetPossibleTypes(def) {
			possible[name] = append(possible[name], t.Name)
			satisfies[t.Name] = append(satisfies[t.Name], name)
		}
	}
	for _, ts := range possible {
		slices.Sort(ts)
	}
	return possible, satisfies
})

// fields collects what sel selects on an object of type typ, as the
// executor does.
func (w *costWalker) fields(sel ast.SelectionSet, typ string) []graphql.CollectedField {
	_, satisfies := schemaTypes()
	return graphql.CollectFields(w.oc, sel, append([]string{typ}, satisfies[typ]...))
}

// object prices the selection sel on m objects of type typ (an abstract
// type: the dearest of its object types).
func (w *costWalker) object(sel ast.SelectionSet, typ string, m int) int {
	if len(sel) == 0 || m == 0 {
		return 0
	}
	if possible, _ := schemaTypes(); possible[typ] != nil {
		dearest := 0
		for _, t := range possible[typ] {
			dearest = max(dearest, w.object(sel, t, m))
		}
		return dearest
	}
	calls := 0
	for _, f := range w.fields(sel, typ) {
		calls = add(calls, w.field(f, typ, m))
	}
	return calls
}

// field prices field f of m objects of type parent, and what it selects.
func (w *costWalker) field(f graphql.CollectedField, parent string, m int) int {
	if f.Definition == nil {
		return 0
	}
	typ := f.Definition.Type.Name()
	args := f.ArgumentMap(w.oc.Variables)
	_, isActivity := activityOrNil(parent)
	switch {
	case parent == "Query":
		switch f.Name {
		case "activities":
			return w.connection(f, args, m, nil)
		case "lead", "campaign", "contact", "node":
			return add(m, w.object(f.Selections, typ, m))
		case "nodes":
			return w.lookups(f, m, listLen(args["ids"]))
		case "_entities":
			return w.lookups(f, m, listLen(args["representations"]))
		case "activityStats":
			return add(mul(m, statsBudget(args["maxUpstreamCalls"])), w.object(f.Selections, typ, m))
		}
		return w.object(f.Selections, typ, m) // activitySeries, answered by the mirror
	case f.Name == "activities": // Lead, Campaign, Contact
		if parent == "Contact" {
			return w.connection(f, args, m, filterLeadID(args["filter"]))
		}
		return w.connection(f, args, m, nil)
	case isActivity || parent == "Lead" || parent == "ContactCampaign":
		// Objects referenced by id, fetched when the selection needs more
		// than the referring object knows.
		var fetch int
		switch f.Name {
		case "lead", "campaign":
			if needsMore(w.fields(f.Selections, typ), "activities") {
				fetch = m
			}
		case "contact":
			if needsMore(w.fields(f.Selections, typ)) {
				fetch = contactCalls(m)
			}
		case "user":
			if needsMore(w.fields(f.Selections, typ)) {
				fetch = 1 // the team, once per operation
			}
		default:
			return 0
		}
		return add(fetch, w.object(f.Selections, typ, m))
	case parent == "Contact" && f.Name == "campaigns":
		return w.object(f.Selections, typ, mul(m, relay.MaxStreams))
	case parent == "ActivityStatsKey" || parent == "CampaignEmailRates":
		// The campaign or user of a stats group, a series or a rate:
		// fetched once per distinct id in the operation.
		switch {
		case f.Name == "campaign" && needsMore(w.fields(f.Selections, typ), "activities"):
			return add(mul(m, assumedCampaigns), w.object(f.Selections, typ, mul(m, assumedCampaigns)))
		case f.Name == "campaign":
			return w.object(f.Selections, typ, mul(m, assumedCampaigns))
		case f.Name == "user" && needsMore(w.fields(f.Selections, typ)):
			return 1
		}
		return 0
	}
	// Anything else costs what it selects, once per object (the groups of a
	// stats answer, the lines of a series).
	return w.object(f.Selections, typ, m)
}

// assumedCampaigns bounds the distinct campaigns a stats answer or a
// series names (a team's campaigns; a team with more gets
// UPSTREAM_BUDGET_EXCEEDED for the names beyond).
const assumedCampaigns = 500

// lookups prices n lookups by id for each of m objects (node ids, entity
// representations), and what they select.
func (w *costWalker) lookups(f graphql.CollectedField, m, n int) int {
	objects := mul(m, n)
	return add(objects, w.object(f.Selections, f.Definition.Type.Name(), objects))
}

// activityOrNil reports whether typ is an activity type.
func activityOrNil(typ string) (string, bool) {
	possible, _ := schemaTypes()
	return typ, slices.Contains(possible["Activity"], typ)
}

// needsMore reports whether fields ask for more than an id (and the
// fields of except, which need nothing fetched).
func needsMore(fields []graphql.CollectedField, except ...string) bool {
	for _, f := range fields {
		if f.Name != "id" && f.Name != "__typename" && !slices.Contains(except, f.Name) {
			return true
		}
	}
	return false
}

// contactCalls bounds the calls fetching m contacts: 100 per call, and
// one more for a batch the loader splits.
func contactCalls(m int) int {
	if m == 0 {
		return 0
	}
	return add((m+lemlist.MaxPageSize-1)/lemlist.MaxPageSize, 1)
}

// connection prices an activities connection f with arguments args for m
// parents, and what its rows select. A contact's connection
// (contactLead: its filter's leadId, "" for none) also fetches the
// contact, and merges its leads' lists.
func (w *costWalker) connection(f graphql.CollectedField, args map[string]any, m int, contactLead *string) int {
	first, firstSet := intArg(args["first"])
	last, lastSet := intArg(args["last"])
	if firstSet && lastSet {
		return 0 // refused before any call
	}
	n := DefaultPageSize
	switch {
	case firstSet:
		n = first
	case lastSet:
		n = last
	}
	n = min(max(n, 0), w.maxPage)
	k := streamCount(args["filter"], contactLead)
	calls := connectionCalls(k, n, lastSet, args["before"] != nil)
	if contactLead != nil {
		calls = add(calls, 1) // the contact, when only its id was known
	}
	rows := 0
	if k > 0 {
		rows = mul(m, n)
	}
	total := mul(m, calls)
	for _, c := range w.fields(f.Selections, "ActivityConnection") {
		switch c.Name {
		case "nodes":
			total = add(total, w.object(c.Selections, "Activity", rows))
		case "edges":
			for _, e := range w.fields(c.Selections, "ActivityEdge") {
				if e.Name == "node" {
					total = add(total, w.object(e.Selections, "Activity", rows))
				}
			}
		}
	}
	return total
}

// connectionCalls bounds the calls of one connection page of n rows over
// k lists (relay.Paginate and relay.PaginateMerged): forward, or backward
// from a before cursor, or backward from the end, which it must find
// first.
func connectionCalls(k, n int, last, before bool) int {
	if k == 0 {
		return 0
	}
	pages := func(rows int) int { return (rows + lemlist.MaxPageSize - 1) / lemlist.MaxPageSize }
	probe := 0
	if k > 1 {
		probe = 1 // a merge's pin
	}
	switch {
	case !last:
		return add(mul(k, pages(n+1)), probe)
	case before:
		return mul(k, pages(n)+2)
	}
	// The first read of p rows, the search of the end, then the page,
	// whose rows the probes may have left in pieces.
	return add(mul(k, 1+findEndCalls(n)+pages(n)+2), probe)
}

// findEndCalls bounds the probes of relay's galloping search of a list's
// end with pages of n rows: probes at p·(2^i−1) for every i that stays
// within relay.MaxOffset, then a bisection of the last gap, as many again,
// and two for the edges.
func findEndCalls(n int) int {
	p := min(max(n, 1), lemlist.MaxPageSize)
	gallop := 0
	for off := 0; off <= relay.MaxOffset; off = 2*off + p {
		gallop++
	}
	return 2*gallop + 2
}

// streamCount is how many upstream lists a connection's filter (as the
// GraphQL argument) merges: one per type of type, types or channel (one
// without any), none when no type can match or the filter is refused;
// for a contact's connection (leadID set), times its leads, at most
// relay.MaxStreams.
func streamCount(filter any, contactLead *string) int {
	in := &model.ActivityFilter{}
	if f, ok := filter.(map[string]any); ok {
		if s, ok := f["type"].(string); ok {
			in.Type = &s
		}
		if l, ok := f["types"].([]any); ok {
			in.Types = make([]string, 0, len(l))
			for _, v := range l {
				if s, ok := v.(string); ok {
					in.Types = append(in.Types, s)
				}
			}
		}
		if s, ok := f["channel"].(string); ok {
			ch := model.ActivityChannel(s)
			in.Channel = &ch
		}
	}
	types, none, err := filterTypes(in)
	if err != nil || none {
		return 0
	}
	k := max(len(types), 1)
	if contactLead != nil && *contactLead == "" {
		return relay.MaxStreams // the contact's leads are not known yet
	}
	return min(k, relay.MaxStreams)
}

// filterLeadID returns a contact connection's filter.leadId, "" when it
// has none.
func filterLeadID(filter any) *string {
	id := ""
	if f, ok := filter.(map[string]any); ok {
		if s, ok := f["leadId"].(string); ok {
			id = s
		}
	}
	return &id
}

// statsBudget is activityStats' maxUpstreamCalls (its default when
// absent), 0 when the resolver refuses it.
func statsBudget(v any) int {
	n, ok := intArg(v)
	if !ok {
		return DefaultStatsCalls
	}
	if n < 1 || n > MaxStatsCalls {
		return 0
	}
	return n
}

// intArg reads an Int argument, as a literal or a variable.
func intArg(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int32:
		return int(n), true
	case int64:
		return int(max(min(n, math.MaxInt32), math.MinInt32)), true
	case float64:
		return int(max(min(n, math.MaxInt32), math.MinInt32)), true
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return 0, false
		}
		return intArg(i)
	}
	return 0, false
}

// listLen is the length of a list argument.
func listLen(v any) int {
	switch l := v.(type) {
	case []any:
		return len(l)
	case []string:
		return len(l)
	case []map[string]any:
		return len(l)
	}
	return 0
}
