package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// rowFields is what a dashboard shows of each activity: the common fields,
// the campaign's name and the lead's name, email and company — fields the
// activity's embedded snapshot usually holds — and the email step.
const rowFields = `fragment Row on Activity {
  __typename id type channel createdAt isFirst
  campaign { id name }
  lead { id email firstName lastName companyName }
  user { id }
  ... on EmailActivity { sequenceStep subject }
}`

// Dashboard queries. Every one is valid against schema.graphqls; the
// schema has no aggregates, so there is no "stats" query.
var (
	pageQuery = `query Page($first: Int!) {
  activities(first: $first) {
    edges { cursor node { ...Row } }
    pageInfo { hasNextPage endCursor }
  }
}
` + rowFields

	// leanQuery is the same 100-row page in exactly one upstream call: no
	// hasNextPage (which costs a lookahead call for row 101), and no
	// campaign or lead field beyond the id, which a row may lack. It
	// compares with direct100.
	leanQuery = `query Lean {
  activities(first: 100) {
    edges { cursor node { __typename id type channel createdAt isFirst campaign { id } lead { id } user { id } ... on EmailActivity { sequenceStep subject } } }
    pageInfo { endCursor }
  }
}`

	repliesQuery = `query Replies($campaign: ID!) {
  activities(first: 20, filter: {campaignId: $campaign, type: "emailsReplied"}) {
    nodes { id createdAt lead { id email firstName lastName companyName } ... on EmailActivity { subject sequenceStep } }
    pageInfo { hasNextPage endCursor }
  }
}`

	// timelineQuery pages through one lead's activities; the load generator
	// asks for two pages (the second with after: endCursor).
	timelineQuery = `query Timeline($lead: ID!, $after: String) {
  activities(first: 5, after: $after, filter: {leadId: $lead}) {
    edges { cursor node { ...Row } }
    pageInfo { hasNextPage endCursor }
  }
}
` + rowFields

	campaignQuery = `query Campaign($campaign: ID!) {
  campaign(id: $campaign) {
    id name status createdAt
    activities(first: 20) {
      edges { cursor node { ...Row } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
` + rowFields

	// discoverQuery finds campaign and lead ids for the parameterised
	// queries; only ids are selected, so it needs one upstream call.
	discoverQuery = `query Discover { activities(first: 100) { nodes { campaign { id } lead { id } } } }`

	pingQuery = `query Ping { __typename }`
)

// kind is one entry of the mix.
type kind struct {
	name string
	desc string
}

var kinds = []kind{
	{"page20", "activities(first: 20) with campaign, lead snapshot and email-step fields"},
	{"page100", "activities(first: 100), same selection"},
	{"lean100", "activities(first: 100), ids only for campaign/lead/user, no hasNextPage: one upstream call (compare with direct100)"},
	{"replies", "a campaign's 20 latest emailsReplied (campaignId + type filter)"},
	{"timeline", "a lead's activities, 5 per page, 2 pages (2 HTTP requests)"},
	{"campaign", "campaign(id) header and its 20 latest activities"},
	{"direct100", "GET /api/activities?version=v2&limit=100 on the upstream itself (no gateway)"},
}

func knownKind(name string) bool {
	for _, k := range kinds {
		if k.name == name {
			return true
		}
	}
	return false
}

// mixEntry is a kind and its weight.
type mixEntry struct {
	name   string
	weight int
}

// parseMix parses "page20", "page20=3,page100=1" or "dashboard".
func parseMix(s string) ([]mixEntry, error) {
	if s == "dashboard" {
		s = "page20=5,page100=1,replies=2,timeline=1,campaign=1"
	}
	var out []mixEntry
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, hasW := strings.Cut(part, "=")
		weight := 1
		if hasW {
			n, err := strconv.Atoi(w)
			if err != nil || n < 1 || n > 1000 {
				return nil, fmt.Errorf("mix %q: weight must be 1..1000", part)
			}
			weight = n
		}
		if !knownKind(name) {
			return nil, fmt.Errorf("mix: unknown query %q (known: %s, or dashboard)", name, kindNames())
		}
		if seen[name] {
			return nil, fmt.Errorf("mix: %q given twice", name)
		}
		seen[name] = true
		out = append(out, mixEntry{name, weight})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("mix: empty")
	}
	return out, nil
}

func kindNames() string {
	var ns []string
	for _, k := range kinds {
		ns = append(ns, k.name)
	}
	sort.Strings(ns)
	return strings.Join(ns, ", ")
}

// schedule expands a mix into a weighted round-robin sequence, so every
// client follows the proportions exactly over each cycle.
func schedule(m []mixEntry) []string {
	var seq []string
	maxW := 0
	for _, e := range m {
		maxW = max(maxW, e.weight)
	}
	for round := 0; round < maxW; round++ {
		for _, e := range m {
			if round < e.weight {
				seq = append(seq, e.name)
			}
		}
	}
	return seq
}
