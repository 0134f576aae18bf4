package lemlisttest

import (
	"strconv"
	"time"
)

// jw appends one JSON object field by field, in the order lemlist uses.
type jw struct {
	b     []byte
	comma bool
}

func (w *jw) key(k string) {
	if w.comma {
		w.b = append(w.b, ',')
	}
	w.b = appendJSONString(w.b, k)
	w.b = append(w.b, ':')
	w.comma = true
}

func (w *jw) str(k, v string) {
	w.key(k)
	w.b = appendJSONString(w.b, v)
}

func (w *jw) boolean(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *jw) int(k string, v int) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, int64(v), 10)
}

func (w *jw) float(k string, v float64) {
	w.key(k)
	w.b = strconv.AppendFloat(w.b, v, 'f', -1, 64)
}

func (w *jw) time(k string, ms int64) {
	w.key(k)
	w.b = appendTime(w.b, ms)
}

// derived writes before + a derived id + after as a string.
func (w *jw) derived(k, before string, id *[17]byte, salt uint64, after string) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = append(w.b, before...)
	w.b = appendDerived(w.b, id, salt)
	w.b = append(w.b, after...)
	w.b = append(w.b, '"')
}

func (w *jw) obj(k string) {
	w.key(k)
	w.b = append(w.b, '{')
	w.comma = false
}

func (w *jw) end() {
	w.b = append(w.b, '}')
	w.comma = true
}

func appendTime(b []byte, ms int64) []byte {
	b = append(b, '"')
	b = time.UnixMilli(ms).UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. s is valid UTF-8.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// stepFor returns the campaign step an activity of family fam relates to,
// or nil when the campaign has no step of that channel.
func (c *campaign) stepFor(fam family, bits uint32) *step {
	n := 0
	for i := range c.steps {
		if c.steps[i].fam == fam {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	k := pick(bits, 20, n)
	for i := range c.steps {
		if c.steps[i].fam == fam {
			if k == 0 {
				return &c.steps[i]
			}
			k--
		}
	}
	return nil
}

// appendActivity renders r as lemlist's v2 activity object. Optional fields
// are picked from r.bits, so a record always renders the same bytes.
func (d *dataset) appendActivity(b []byte, r *rec) []byte {
	ti := &d.types[r.typ]
	h := r.bits
	w := jw{b: append(b, '{')}
	w.key("_id")
	w.b = append(w.b, `"act_`...)
	w.b = append(w.b, r.id[:]...)
	w.b = append(w.b, '"')

	if r.lead < 0 { // A company note: no lead, no campaign.
		u := &d.users[pick(h, 1, len(d.users))]
		w.str("teamId", d.teamID)
		w.str("companyId", d.companies[pick(h, 2, len(d.companies))].id)
		w.str("type", ti.name)
		w.time("createdAt", r.at)
		w.str("note", notes[pick(h, 3, len(notes))])
		w.str("sendUserId", u.id)
		w.str("userId", u.id)
		return d.appendExtras(w, r)
	}

	l := &d.leads[r.lead]
	c := &d.campaigns[l.campaign]
	p := &d.persons[l.person]
	sender := &d.users[c.senders[pick(h, 4, len(c.senders))]]
	actor := &d.users[pick(h, 5, len(d.users))]
	fam := ti.fam
	sequenced := fam <= famAPI
	var st *step
	if sequenced {
		st = c.stepFor(fam, h)
	}

	w.str("type", ti.name)
	if r.flags&fFirstSet != 0 {
		w.boolean("isFirst", r.flags&fFirst != 0)
	}
	if fam == famEmail {
		w.boolean("stopped", false)
	}
	w.time("createdAt", r.at)
	if pct(h, 6) < 90 {
		w.boolean("bot", r.flags&fBot != 0)
	}
	w.str("teamId", d.teamID)
	w.str("leadId", l.id)
	w.str("campaignId", c.id)
	if st != nil {
		w.str("sequenceId", c.seqID)
		w.int("sequenceStep", st.index)
		if pct(h, 7) < 50 {
			w.int("totalSequenceStep", len(c.steps)-1)
		}
		if pct(h, 8) < 70 {
			w.str("stepId", st.id)
		}
		if st.templateID != "" {
			w.str("emailTemplateId", st.templateID)
		}
	}
	switch fam {
	case famEmail, famLinkedin, famWhatsapp, famSMS:
		w.str("createdBy", sender.id)
		w.str("sendUserId", sender.id)
		if pct(h, 9) < 60 {
			w.str("sendUserName", sender.name)
			w.str("sendUserEmail", sender.email)
		}
		if fam == famEmail {
			w.str("sendUserMailboxId", sender.mailbox)
		}
	case famAPI:
		w.str("userName", "api")
	case famManual, famCall:
		w.str("userId", actor.id)
		w.str("userName", actor.name)
	case famLifecycle, famUnknown, famEnrichment:
		if pct(h, 10) < 50 {
			w.str("userName", "api")
		} else {
			w.str("userId", actor.id)
			w.str("userName", actor.name)
		}
	}

	// Type-specific fields.
	switch ti.name {
	case "emailsSent":
		w.derived("emailId", "eml_", &r.id, 1, "")
		w.derived("messageId", "<", &r.id, 2, "@mail.gmail.com>")
		w.str("subject", subjectFor(st, d.companies[p.company].name))
	case "emailsReplied":
		w.derived("emailId", "eml_", &r.id, 1, "")
		w.derived("messageId", "<", &r.id, 2, "@mail.gmail.com>")
		w.str("subject", "Re: "+subjectFor(st, d.companies[p.company].name))
		w.str("fromEmail", p.email)
		if pct(h, 11) < 70 {
			w.str("messagePreview", "Thanks for reaching out, "+sender.name+". Let's talk next week.")
			w.str("text", "Thanks for reaching out, "+sender.name+".\nLet's talk next week.\n\n> On a previous day you wrote:")
		}
		if pct(h, 12) < 50 {
			w.float("aiLeadInterestScore", float64(pick(h, 13, 101))/100)
		}
	case "manualDone":
		w.derived("opportunityId", "opp_", &r.id, 3, "")
	case "conditionChosen":
		ck := conditionKeys[pick(h, 14, len(conditionKeys))]
		w.str("conditionKey", ck[0])
		w.str("conditionLabel", ck[1])
		w.boolean("conditionValue", pct(h, 15) < 50)
	case "linkedinSent", "linkedinReplied":
		if pct(h, 16) < 80 {
			w.str("message", "Hi "+p.first+", loved your last post about outbound at "+d.companies[p.company].name+"!")
		}
	case "linkedinLikeLastPostDone":
		w.str("linkedinPostUrl", "https://www.linkedin.com/feed/update/urn:li:activity:"+strconv.FormatUint(uint64(mix(h, 17))*1000003, 10))
	case "whatsappMessageSent", "whatsappReplied":
		w.derived("messageId", "wamid.", &r.id, 4, "")
	case "quantumTeleported":
		w.str("quantumState", "entangled")
		w.float("fidelity", 0.997)
	case "hologramSent":
		w.obj("hologram")
		w.int("resolution", 1080)
		w.str("format", "volumetric")
		w.end()
	}
	if ti.flags&tError != 0 {
		w.str("errorMessage", errorMessages[pick(h, 18, len(errorMessages))])
	}

	if ti.name != "manualDone" && pct(h, 19) < 75 {
		w.str("name", c.name)
	}
	if r.flags&fLeadFields != 0 {
		w.str("leadFirstName", p.first)
		w.str("leadLastName", p.last)
		w.str("leadEmail", p.email)
		w.str("leadCompanyName", d.companies[p.company].name)
		if p.phone != "" {
			w.str("leadPhone", p.phone)
		}
	}
	w.str("contactId", p.id)
	if ti.flags&tRelated != 0 {
		w.time("relatedSentAt", r.at-3600_000-int64(mix(h, 21)%(5*86400_000)))
	}
	if pct(h, 22) < 97 {
		w.obj("metaData")
		w.str("teamId", d.teamID)
		w.str("campaignId", c.id)
		w.str("leadId", l.id)
		w.str("type", ti.name)
		if fam == famEmail {
			w.str("createdBy", sender.id)
		}
		if pct(h, 23) < 20 {
			w.derived("taskId", "tsk_", &r.id, 5, "")
		}
		w.end()
	}
	if r.flags&fSnapshot != 0 {
		d.appendLeadSnapshot(&w, l, p)
	}
	if pct(h, 24) < 95 {
		w.str("campaignName", c.name)
	}
	if pct(h, 25) < 60 {
		w.str("sequenceTested", string(rune('A'+pick(h, 26, 2))))
	}
	switch {
	case st != nil && st.templateName != "":
		w.str("emailTemplateName", st.templateName)
	case ti.name == "linkedinInviteDone" && pct(h, 27) < 50:
		w.str("emailTemplateName", "linkedinInvite")
	}
	return d.appendExtras(w, r)
}

func subjectFor(st *step, companyName string) string {
	if st == nil || st.subject == "" {
		return "Hello"
	}
	for i := 0; i+1 < len(st.subject); i++ {
		if st.subject[i] == '%' && st.subject[i+1] == 's' {
			return st.subject[:i] + companyName + st.subject[i+2:]
		}
	}
	return st.subject
}

func (d *dataset) appendLeadSnapshot(w *jw, l *lead, p *person) {
	w.obj("lead")
	w.str("_id", l.id)
	w.boolean("isPaused", l.paused)
	w.str("state", leadStates[l.state])
	w.boolean("personalized", l.personalized)
	w.str("source", leadSources[l.source])
	w.obj("variables")
	if p.spaceQuirk {
		w.str("firstName", p.first+" ")
	} else {
		w.str("firstName", p.first)
	}
	w.str("lastName", p.last)
	co := &d.companies[p.company]
	w.str("email", p.email)
	w.str("companyName", co.name)
	if p.job != "" {
		w.str("jobTitle", p.job)
	}
	w.str("companyDomain", co.domain)
	if p.phone != "" {
		w.str("phone", p.phone)
	}
	if p.linkedin != "" {
		w.str("linkedinUrl", p.linkedin)
	}
	if p.preference != "" {
		w.str("preferredContactMethod", p.preference)
	}
	if p.industry != "" {
		w.str("industry", p.industry)
	}
	if p.customCompanyVar {
		w.str("Company name", p.first+" "+p.last)
	}
	w.end()
	w.str("contactId", p.id)
	w.obj("enrichment")
	if l.emailStatus > 0 {
		w.str("emailStatus", emailStatuses[l.emailStatus-1])
	}
	w.end()
	w.end()
}

// appendExtras closes the object after adding the fields given to Insert,
// which are stored pre-rendered as `"k":v,"k2":v2`.
func (d *dataset) appendExtras(w jw, r *rec) []byte {
	if r.aux >= 0 && len(d.extras[r.aux]) > 0 {
		if w.comma {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, d.extras[r.aux]...)
	}
	return append(w.b, '}')
}
