package lemlisttest

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultActivities is the number of activities a tenant gets when
// DatasetOptions.Activities is zero.
const DefaultActivities = 500

// defaultNowMs is 2026-10-01T00:00:00Z, the dataset's present when
// DatasetOptions.Now is zero.
const defaultNowMs = 1790812800000

// defaultSpan is the time the generated activities cover when
// DatasetOptions.Span is zero.
const defaultSpan = 90 * 24 * time.Hour

// DatasetOptions shapes the data generated for one tenant. The generator is
// deterministic: the same options (and tenant name) give byte-identical data.
type DatasetOptions struct {
	// Seed drives the generator. Zero derives the seed from the tenant's
	// name, so tenants that leave it unset get distinct data.
	Seed int64
	// Activities is the number of activities. Zero means DefaultActivities;
	// a negative number means none.
	Activities int
	// Campaigns is the number of campaigns. Zero scales with Activities
	// (from 2 up to 250).
	Campaigns int
	// LeadsPerCampaign is the number of leads enrolled in each campaign.
	// Zero scales with Activities (about six activities per lead).
	LeadsPerCampaign int
	// Users is the number of team members. Zero means 4.
	Users int
	// Now is the dataset's present: every generated createdAt lies in
	// (Now-Span, Now]. Zero means 2026-10-01T00:00:00Z.
	Now time.Time
	// Span is how far back the activities go. Zero means 90 days.
	Span time.Duration
}

func (o DatasetOptions) normalized(tenant string) DatasetOptions {
	if o.Seed == 0 {
		h := fnv.New64a()
		h.Write([]byte(tenant))
		o.Seed = int64(h.Sum64() >> 1)
		if o.Seed == 0 {
			o.Seed = 1
		}
	}
	switch {
	case o.Activities == 0:
		o.Activities = DefaultActivities
	case o.Activities < 0:
		o.Activities = 0
	}
	if o.Campaigns <= 0 {
		o.Campaigns = min(max(isqrt(o.Activities)/4, 2), 250)
	}
	if o.LeadsPerCampaign <= 0 {
		o.LeadsPerCampaign = max(o.Activities/(o.Campaigns*6), 2)
	}
	if o.Users <= 0 {
		o.Users = 4
	}
	if o.Now.IsZero() {
		o.Now = time.UnixMilli(defaultNowMs).UTC()
	}
	if o.Span <= 0 {
		o.Span = defaultSpan
	}
	return o
}

func isqrt(n int) int {
	r := 0
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}

// rec is one stored activity: 40 bytes. Everything the JSON shows is derived
// from these fields and the dataset's tables when the activity is rendered.
type rec struct {
	at    int64  // createdAt, unix milliseconds
	lead  int32  // index into dataset.leads, -1 for company notes
	bits  uint32 // random bits that pick the optional fields
	aux   int32  // index into dataset.extras, or -1
	typ   uint16 // index into dataset.types
	flags recFlag
	id    [17]byte // suffix after "act_"
}

type recFlag uint8

const (
	fFirstSet   recFlag = 1 << iota // isFirst is rendered
	fFirst                          // isFirst is true
	fSnapshot                       // the lead snapshot is embedded
	fLeadFields                     // leadFirstName & co are rendered
	fBot                            // bot is true
)

func (r *rec) isFirst() bool { return r.flags&(fFirstSet|fFirst) == fFirstSet|fFirst }

type user struct {
	id, name, email, role, mailbox string
}

type company struct {
	id, name, domain string
}

type step struct {
	id           string
	index        int
	fam          family
	templateID   string
	templateName string
	subject      string
}

type campaign struct {
	id, name, status string
	emoji            string
	labels           []string
	createdAt        int64
	creator          int
	senders          []int
	seqID            string
	scheduleID       string
	timezone         string
	steps            []step
	// Weighted activity-type picker restricted to the campaign's channels.
	cum   []int32
	typs  []uint16
	total int32
}

type person struct {
	id                   string
	first, last, email   string
	company              int32
	job                  string
	phone, linkedin      string
	industry, preference string
	customCompanyVar     bool
	spaceQuirk           bool // the lead variable firstName has a trailing space
	unsubscribed         bool
	owner                int32
	createdAt            int64
	leads                []int32
}

type lead struct {
	id           string
	campaign     int32
	person       int32
	state        uint8
	source       uint8
	emailStatus  uint8 // index+1 into emailStatuses, 0 when unknown
	paused       bool
	personalized bool
	createdAt    int64
}

// dataset is one tenant's data. Activities are kept sorted by (createdAt,
// id) ascending; the API serves them from the end. Index lists hold
// positions in acts, ascending as well, so date bounds are binary searches.
type dataset struct {
	rng     *rand.Rand
	nowMs   int64
	startMs int64

	teamID, teamName, teamDomain string
	teamCreated                  int64
	users                        []user
	companies                    []company
	campaigns                    []campaign
	persons                      []person
	leads                        []lead
	activeLeads                  []int32

	campByID      map[string]int32
	leadByID      map[string]int32
	personByID    map[string]int32
	personByEmail map[string]int32

	types      []typeInfo
	typeByName map[string]uint16
	annotated  uint16

	acts      []rec
	extras    [][]byte
	firstSeen [][2]uint64 // per lead, one bit per type index < 128

	byCampaign [][]int32
	byLead     [][]int32
	byType     [][]int32
	byCT       map[uint64][]int32
	byFirst    []int32
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func fillID(dst *[17]byte, x, y uint64) {
	for i := range dst {
		if i == 10 {
			x = y
		}
		dst[i] = idAlphabet[x%62]
		x /= 62
	}
}

func (d *dataset) newID(prefix string) string {
	var b [17]byte
	fillID(&b, d.rng.Uint64(), d.rng.Uint64())
	return prefix + string(b[:])
}

// appendDerived appends a stable 17-character id suffix for something an
// activity points at but the dataset does not store (tasks, e-mails,
// opportunities): a hash of the activity id and salt.
func appendDerived(b []byte, id *[17]byte, salt uint64) []byte {
	x := uint64(14695981039346656037) // FNV-1a
	for _, c := range id {
		x ^= uint64(c)
		x *= 1099511628211
	}
	x ^= salt * 0x9e3779b97f4a7c15
	var out [17]byte
	fillID(&out, splitmix(x), splitmix(x+1))
	return append(b, out[:]...)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// mix derives an independent 32-bit value from an activity's bits.
func mix(bits uint32, salt uint32) uint32 {
	x := bits ^ salt*0x9e3779b9
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 15
	x *= 0x846ca68b
	x ^= x >> 16
	return x
}

func pct(bits, salt uint32) uint32 { return mix(bits, salt) % 100 }

func pick(bits, salt uint32, n int) int { return int(mix(bits, salt) % uint32(n)) }

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r < utf8.RuneSelf:
		default:
			b.WriteString(accentFold[r])
		}
	}
	return b.String()
}

// generate builds a tenant's dataset from normalized options.
func generate(o DatasetOptions) *dataset {
	d := &dataset{
		rng:           rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed1e5f00d)),
		nowMs:         o.Now.UnixMilli(),
		campByID:      map[string]int32{},
		leadByID:      map[string]int32{},
		personByID:    map[string]int32{},
		personByEmail: map[string]int32{},
		typeByName:    map[string]uint16{},
		byCT:          map[uint64][]int32{},
	}
	d.startMs = d.nowMs - o.Span.Milliseconds()
	rng := d.rng
	const day = int64(24 * time.Hour / time.Millisecond)

	d.types = slices.Clone(activityTypes[:])
	for i, t := range d.types {
		d.typeByName[t.name] = uint16(i)
	}
	d.annotated = d.typeByName["annotated"]

	// Team and users.
	d.teamID = d.newID("tea_")
	d.teamName = teamNames[rng.IntN(len(teamNames))]
	d.teamDomain = slug(d.teamName) + ".io"
	d.teamCreated = d.startMs - 400*day
	off := rng.IntN(len(teamUserNames))
	for i := range o.Users {
		name := teamUserNames[(off+i)%len(teamUserNames)]
		if i >= len(teamUserNames) {
			name += fmt.Sprintf(" %d", i/len(teamUserNames)+1)
		}
		role := "user"
		if i == 0 {
			role = "admin"
		}
		parts := strings.Fields(name)
		for j := range parts {
			parts[j] = slug(parts[j])
		}
		d.users = append(d.users, user{
			id: d.newID("usr_"), name: name, role: role, mailbox: d.newID("usm_"),
			email: strings.Join(parts, ".") + "@" + d.teamDomain,
		})
	}

	// Campaigns and their sequences.
	nLeads := o.Campaigns * o.LeadsPerCampaign
	nCompanies := max(nLeads/4, 5)
	for i := range nCompanies {
		name := companyNames[i%len(companyNames)]
		if i >= len(companyNames) {
			name += fmt.Sprintf(" %d", i/len(companyNames)+1)
		}
		d.companies = append(d.companies, company{id: d.newID("cpn_"), name: name, domain: slug(name) + ".com"})
	}
	stepFams := []struct {
		fam family
		w   int
	}{{famEmail, 40}, {famLinkedin, 25}, {famWhatsapp, 8}, {famSMS, 7}, {famCall, 8}, {famManual, 7}, {famAPI, 5}}
	for i := range o.Campaigns {
		c := campaign{id: d.newID("cam_"), seqID: d.newID("seq_"), scheduleID: d.newID("sch_")}
		c.name = campaignThemes[i%len(campaignThemes)]
		if i >= len(campaignThemes) {
			c.name += fmt.Sprintf(" #%d", i/len(campaignThemes)+1)
		}
		if i < len(campaignStatuses) {
			c.status = campaignStatuses[i]
		} else {
			c.status = []string{"running", "running", "running", "paused", "ended", "ended", "draft", "archived", "errors"}[rng.IntN(9)]
		}
		c.emoji = emojis[rng.IntN(len(emojis))]
		c.labels = []string{}
		for range rng.IntN(3) {
			if l := labels[rng.IntN(len(labels))]; !slices.Contains(c.labels, l) {
				c.labels = append(c.labels, l)
			}
		}
		c.timezone = timezones[rng.IntN(len(timezones))]
		c.createdAt = d.startMs - int64(1+rng.IntN(200))*day - rng.Int64N(day)
		c.creator = rng.IntN(len(d.users))
		c.senders = []int{c.creator}
		if len(d.users) > 1 && rng.IntN(3) == 0 {
			c.senders = append(c.senders, (c.creator+1)%len(d.users))
		}
		allowed := [numFamilies]bool{famLifecycle: true, famEnrichment: true, famUnknown: true}
		nSteps := 3 + rng.IntN(6)
		for s := range nSteps {
			fam := famEmail
			if s > 0 {
				x := rng.IntN(100)
				for _, sf := range stepFams {
					if x < sf.w {
						fam = sf.fam
						break
					}
					x -= sf.w
				}
			}
			allowed[fam] = true
			st := step{id: d.newID("stp_"), index: s, fam: fam}
			if fam == famEmail {
				st.templateID = d.newID("etp_")
				st.templateName = templateNames[rng.IntN(len(templateNames))]
				st.subject = subjects[rng.IntN(len(subjects))]
			}
			c.steps = append(c.steps, st)
		}
		for ti, t := range d.types {
			if t.weight > 0 && allowed[t.fam] {
				c.total += t.weight
				c.cum = append(c.cum, c.total)
				c.typs = append(c.typs, uint16(ti))
			}
		}
		d.campByID[c.id] = int32(i)
		d.campaigns = append(d.campaigns, c)
	}

	// People and their campaign-scoped leads. Some people are enrolled in
	// several campaigns: one contact, several leads.
	for ci := range d.campaigns {
		c := &d.campaigns[ci]
		for j := range o.LeadsPerCampaign {
			p := int32(-1)
			switch {
			case ci > 0 && j == 0 && ci <= 2:
				p = 0 // person 0 is in up to three campaigns
			case len(d.persons) > 0 && rng.IntN(100) < 15:
				p = int32(rng.IntN(len(d.persons)))
			}
			if p >= 0 && slices.ContainsFunc(d.persons[p].leads, func(l int32) bool { return d.leads[l].campaign == int32(ci) }) {
				p = -1
			}
			if p < 0 {
				p = d.newPerson(c.createdAt)
			}
			l := lead{
				id: d.newID("lea_"), campaign: int32(ci), person: p,
				state: uint8(rng.IntN(len(leadStates))), source: uint8(rng.IntN(len(leadSources))),
				paused: rng.IntN(20) == 0, personalized: rng.IntN(10) == 0,
				createdAt: c.createdAt + rng.Int64N(30*day),
			}
			if rng.IntN(5) > 0 {
				l.emailStatus = uint8(1 + rng.IntN(len(emailStatuses)))
			}
			li := int32(len(d.leads))
			d.leads = append(d.leads, l)
			d.leadByID[l.id] = li
			d.persons[p].leads = append(d.persons[p].leads, li)
			if c.status != "draft" {
				d.activeLeads = append(d.activeLeads, li)
			}
		}
	}
	d.firstSeen = make([][2]uint64, len(d.leads))

	// Activities: content first, then timestamps spread over the span.
	n := o.Activities
	d.acts = make([]rec, n)
	cum := make([]float64, n)
	var total float64
	for i := range d.acts {
		d.acts[i] = d.randomRec(-1, -1)
		if rng.IntN(100) >= 3 { // 3% share the previous activity's createdAt
			total += rng.ExpFloat64()
		}
		cum[i] = total
	}
	spanMs := max(d.nowMs-d.startMs, 1)
	for i := range d.acts {
		frac := 1.0
		if total > 0 {
			frac = cum[i] / total
		}
		d.acts[i].at = d.startMs + 1 + int64(frac*float64(spanMs-1))
	}
	// Equal timestamps are ordered by id.
	for i := 0; i < n; {
		j := i + 1
		for j < n && d.acts[j].at == d.acts[i].at {
			j++
		}
		if j-i > 1 {
			sort.Slice(d.acts[i:j], func(a, b int) bool {
				return string(d.acts[i+a].id[:]) < string(d.acts[i+b].id[:])
			})
		}
		i = j
	}
	for i := range d.acts {
		d.markFirst(&d.acts[i])
	}
	d.buildIndexes()
	return d
}

func (d *dataset) newPerson(campaignCreated int64) int32 {
	rng := d.rng
	first := firstNames[rng.IntN(len(firstNames))]
	last := lastNames[rng.IntN(len(lastNames))]
	co := int32(rng.IntN(len(d.companies)))
	base := slug(first) + "." + slug(last)
	email := base + "@" + d.companies[co].domain
	for k := 2; ; k++ {
		if _, dup := d.personByEmail[email]; !dup {
			break
		}
		email = fmt.Sprintf("%s%d@%s", base, k, d.companies[co].domain)
	}
	p := person{
		id: d.newID("ctc_"), first: first, last: last, email: email, company: co,
		owner:     int32(rng.IntN(len(d.users))),
		createdAt: campaignCreated - rng.Int64N(int64(60*24*time.Hour/time.Millisecond)),
	}
	if rng.IntN(4) > 0 {
		p.job = jobTitles[rng.IntN(len(jobTitles))]
	}
	if rng.IntN(3) == 0 {
		p.phone = fmt.Sprintf("+33 6 %02d %02d %02d %02d", rng.IntN(100), rng.IntN(100), rng.IntN(100), rng.IntN(100))
	}
	if rng.IntN(2) == 0 {
		p.linkedin = "https://www.linkedin.com/in/" + slug(first) + "-" + slug(last)
	}
	if rng.IntN(3) == 0 {
		p.industry = industries[rng.IntN(len(industries))]
	}
	if rng.IntN(4) == 0 {
		p.preference = []string{"email", "linkedin", "phone"}[rng.IntN(3)]
	}
	p.customCompanyVar = rng.IntN(5) == 0
	p.spaceQuirk = rng.IntN(25) == 0
	p.unsubscribed = rng.IntN(30) == 0
	i := int32(len(d.persons))
	d.persons = append(d.persons, p)
	d.personByID[p.id] = i
	d.personByEmail[strings.ToLower(email)] = i
	return i
}

// randomRec draws an activity's content. leadIdx and typ force a lead or a
// type when >= 0. The createdAt is left to the caller.
func (d *dataset) randomRec(leadIdx int32, typ int32) rec {
	rng := d.rng
	r := rec{lead: -1, aux: -1, bits: rng.Uint32()}
	fillID(&r.id, rng.Uint64(), rng.Uint64())
	switch {
	case typ == int32(d.annotated):
		r.typ = d.annotated
	case leadIdx < 0 && typ < 0 && (len(d.activeLeads) == 0 || rng.IntN(1000) < annotatedPerMille):
		r.typ = d.annotated
	default:
		if leadIdx < 0 {
			if len(d.activeLeads) > 0 {
				leadIdx = d.activeLeads[rng.IntN(len(d.activeLeads))]
			} else {
				leadIdx = int32(rng.IntN(len(d.leads)))
			}
		}
		r.lead = leadIdx
		if typ >= 0 {
			r.typ = uint16(typ)
		} else {
			c := &d.campaigns[d.leads[leadIdx].campaign]
			x := rng.Int32N(c.total)
			r.typ = c.typs[sort.Search(len(c.cum), func(i int) bool { return c.cum[i] > x })]
		}
		if rng.IntN(100) < 65 {
			r.flags |= fSnapshot
		}
		if rng.IntN(100) < 85 {
			r.flags |= fLeadFields
		}
		if d.types[r.typ].flags&tBotable != 0 && rng.IntN(100) < 7 {
			r.flags |= fBot
		}
	}
	return r
}

// markFirst sets isFirst on types that carry it: true for the lead's
// oldest activity of that type. Activities must be marked in order.
func (d *dataset) markFirst(r *rec) {
	if r.lead < 0 || r.typ >= 128 || d.types[r.typ].flags&tFirst == 0 {
		return
	}
	r.flags |= fFirstSet
	w, bit := r.typ/64, uint64(1)<<(r.typ%64)
	if d.firstSeen[r.lead][w]&bit == 0 {
		d.firstSeen[r.lead][w] |= bit
		r.flags |= fFirst
	}
}

func ctKey(camp int32, typ uint16) uint64 { return uint64(uint32(camp))<<16 | uint64(typ) }

func (d *dataset) buildIndexes() {
	clear(d.byCT)
	nCamp, nLead, nType := make([]int32, len(d.campaigns)), make([]int32, len(d.leads)), make([]int32, len(d.types))
	nCT := map[uint64]int32{}
	nFirst := 0
	for i := range d.acts {
		r := &d.acts[i]
		nType[r.typ]++
		if r.lead >= 0 {
			c := d.leads[r.lead].campaign
			nCamp[c]++
			nLead[r.lead]++
			nCT[ctKey(c, r.typ)]++
		}
		if r.isFirst() {
			nFirst++
		}
	}
	// Each index is carved out of one backing array; the three-index slices
	// keep an append on Insert from overwriting a neighbour.
	carve := func(counts []int32) [][]int32 {
		var sum int
		for _, c := range counts {
			sum += int(c)
		}
		back := make([]int32, sum)
		out := make([][]int32, len(counts))
		o := 0
		for i, c := range counts {
			out[i] = back[o : o : o+int(c)]
			o += int(c)
		}
		return out
	}
	d.byCampaign, d.byLead, d.byType = carve(nCamp), carve(nLead), carve(nType)
	keys := make([]uint64, 0, len(nCT))
	counts := make([]int32, 0, len(nCT))
	for k, c := range nCT {
		keys = append(keys, k)
		counts = append(counts, c)
	}
	for i, s := range carve(counts) {
		d.byCT[keys[i]] = s
	}
	d.byFirst = make([]int32, 0, nFirst)
	for i := range d.acts {
		d.index(int32(i))
	}
}

// index adds the activity at position i to every index; positions must be
// added in ascending order.
func (d *dataset) index(i int32) {
	r := &d.acts[i]
	d.byType[r.typ] = append(d.byType[r.typ], i)
	if r.lead >= 0 {
		c := d.leads[r.lead].campaign
		d.byCampaign[c] = append(d.byCampaign[c], i)
		d.byLead[r.lead] = append(d.byLead[r.lead], i)
		k := ctKey(c, r.typ)
		d.byCT[k] = append(d.byCT[k], i)
	}
	if r.isFirst() {
		d.byFirst = append(d.byFirst, i)
	}
}

// typeIndex returns the index of type name, adding it when it is new.
func (d *dataset) typeIndex(name string) uint16 {
	if i, ok := d.typeByName[name]; ok {
		return i
	}
	i := uint16(len(d.types))
	d.types = append(d.types, typeInfo{name: name, fam: famUnknown})
	d.typeByName[name] = i
	d.byType = append(d.byType, nil)
	return i
}

// push appends r as the newest activity, strictly after the current newest.
func (d *dataset) push(r rec) int32 {
	r.at = d.nowMs
	if n := len(d.acts); n > 0 {
		r.at = d.acts[n-1].at + 1000
	}
	d.markFirst(&r)
	d.acts = append(d.acts, r)
	i := int32(len(d.acts) - 1)
	d.index(i)
	return i
}

// insertAt places r, whose createdAt is set, among the activities: after
// those older than it and those at the same createdAt with a smaller id.
// The indexes are stale until buildIndexes runs.
func (d *dataset) insertAt(r rec) int32 {
	i := sort.Search(len(d.acts), func(i int) bool {
		a := &d.acts[i]
		return a.at > r.at || (a.at == r.at && string(a.id[:]) > string(r.id[:]))
	})
	d.markFirst(&r)
	d.acts = slices.Insert(d.acts, i, r)
	return int32(i)
}

// find returns the position of the activity at createdAt ms with id, trying
// hint first; ok is false when it is gone.
func (d *dataset) find(hint int32, ms int64, id string) (int32, bool) {
	suffix, _ := strings.CutPrefix(id, "act_")
	if hint >= 0 && int(hint) < len(d.acts) && d.acts[hint].at == ms && string(d.acts[hint].id[:]) == suffix {
		return hint, true
	}
	i := sort.Search(len(d.acts), func(i int) bool {
		a := &d.acts[i]
		return a.at > ms || (a.at == ms && string(a.id[:]) >= suffix)
	})
	if i < len(d.acts) && d.acts[i].at == ms && string(d.acts[i].id[:]) == suffix {
		return int32(i), true
	}
	return -1, false
}
