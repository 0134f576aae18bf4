package lemlisttest

// Constant tables the generator draws from. They are read-only.

// family is the channel an activity type belongs to; it decides which
// fields the fake renders.
type family uint8

const (
	famEmail family = iota
	famLinkedin
	famWhatsapp
	famSMS
	famCall
	famManual
	famAPI
	famAnnotated
	famLifecycle
	famEnrichment
	famUnknown
	numFamilies
)

// typeFlag describes the shape of one activity type.
type typeFlag uint8

const (
	tSent    typeFlag = 1 << iota // the "sent" side: no relatedSentAt
	tRelated                      // carries relatedSentAt
	tError                        // carries errorMessage
	tFirst                        // carries isFirst
	tBotable                      // bot may be true (opens, clicks)
)

type typeInfo struct {
	name   string
	fam    family
	weight int32
	flags  typeFlag
}

// activityTypes lists the generated types with their relative weights. The
// first 128 entries may carry isFirst (see dataset.firstSeen).
var activityTypes = [...]typeInfo{
	// Email.
	{"emailsSent", famEmail, 1200, tSent},
	{"emailsOpened", famEmail, 1500, tRelated | tFirst | tBotable},
	{"emailsClicked", famEmail, 400, tRelated | tFirst | tBotable},
	{"emailsReplied", famEmail, 250, tRelated | tFirst},
	{"emailsBounced", famEmail, 80, tRelated | tError},
	{"emailsFailed", famEmail, 40, tError},
	{"emailsUnsubscribed", famEmail, 40, tRelated | tFirst},
	{"emailsInterested", famEmail, 60, tRelated | tFirst},
	{"emailsNotInterested", famEmail, 40, tRelated | tFirst},
	{"emailsDone", famEmail, 30, 0},
	{"outOfOffice", famEmail, 20, tRelated},
	// LinkedIn.
	{"linkedinVisitDone", famLinkedin, 300, tSent},
	{"linkedinInviteDone", famLinkedin, 250, tSent},
	{"linkedinInviteAccepted", famLinkedin, 120, tRelated | tFirst},
	{"linkedinSent", famLinkedin, 250, tSent},
	{"linkedinOpened", famLinkedin, 150, tRelated | tFirst},
	{"linkedinReplied", famLinkedin, 80, tRelated | tFirst},
	{"linkedinInterested", famLinkedin, 30, tFirst},
	{"linkedinNotInterested", famLinkedin, 20, tFirst},
	{"linkedinSendFailed", famLinkedin, 20, tError},
	{"linkedinVisitFailed", famLinkedin, 20, tError},
	{"linkedinInviteFailed", famLinkedin, 20, tError},
	{"linkedinFollowDone", famLinkedin, 40, tSent},
	{"linkedinEndorseDone", famLinkedin, 20, tSent},
	{"linkedinVoiceNoteDone", famLinkedin, 30, tSent},
	{"linkedinLikeLastPostDone", famLinkedin, 50, tSent},
	{"linkedinLikeLastPostNoPost", famLinkedin, 10, 0},
	// WhatsApp.
	{"whatsappMessageSent", famWhatsapp, 80, tSent},
	{"whatsappMessageDelivered", famWhatsapp, 70, tRelated},
	{"whatsappMessageOpened", famWhatsapp, 50, tRelated | tFirst},
	{"whatsappReplied", famWhatsapp, 20, tRelated | tFirst},
	{"whatsappMessageFailed", famWhatsapp, 10, tError},
	// SMS.
	{"smsSent", famSMS, 60, tSent},
	{"smsDelivered", famSMS, 50, tRelated},
	{"smsReplied", famSMS, 10, tRelated | tFirst},
	{"smsFailed", famSMS, 10, tError},
	// Calls.
	{"aircallCreated", famCall, 80, 0},
	{"aircallEnded", famCall, 80, 0},
	{"aircallDone", famCall, 120, 0},
	{"aircallInterested", famCall, 25, tFirst},
	{"aircallNotInterested", famCall, 25, tFirst},
	// Manual tasks.
	{"manualDone", famManual, 60, 0},
	{"manualInterested", famManual, 20, tFirst},
	{"manualNotInterested", famManual, 20, tFirst},
	{"manualIgnored", famManual, 10, 0},
	// API steps.
	{"apiDone", famAPI, 30, 0},
	{"apiFailed", famAPI, 10, tError},
	{"apiInterested", famAPI, 10, tFirst},
	{"apiNotInterested", famAPI, 10, tFirst},
	// Notes on a company; no lead, no campaign. Drawn separately.
	{"annotated", famAnnotated, 0, 0},
	// Lifecycle.
	{"paused", famLifecycle, 50, 0},
	{"resumed", famLifecycle, 30, 0},
	{"skipped", famLifecycle, 30, 0},
	{"stopped", famLifecycle, 20, 0},
	{"snoozed", famLifecycle, 10, 0},
	{"conditionChosen", famLifecycle, 40, 0},
	{"meetingBooked", famLifecycle, 20, tFirst},
	{"campaignComplete", famLifecycle, 20, 0},
	{"sendToAnotherCampaign", famLifecycle, 10, 0},
	// Enrichment.
	{"enrichmentDone", famEnrichment, 30, 0},
	{"enrichmentError", famEnrichment, 10, tError},
	// Types no client has heard of.
	{"quantumTeleported", famUnknown, 8, 0},
	{"hologramSent", famUnknown, 8, 0},
}

// annotatedPerMille is how many activities in a thousand are company notes.
const annotatedPerMille = 6

// stepTypes is the sequence step type a channel's steps have.
var stepTypes = [numFamilies]string{
	famEmail:    "email",
	famLinkedin: "linkedinSend",
	famWhatsapp: "whatsappMessage",
	famSMS:      "sendToPhone",
	famCall:     "phone",
	famManual:   "manual",
	famAPI:      "api",
}

var firstNames = [...]string{
	"John", "Sam", "Alice", "Bob", "Chloé", "David", "Emma", "Farid", "Grace", "Hugo",
	"Inès", "Jack", "Kenji", "Léa", "Marco", "Nora", "Olivia", "Pablo", "Quentin", "Rosa",
	"Søren", "Tariq", "Uma", "Victor", "Wei", "Xavier", "Yasmine", "Zoë", "Amélie", "Björn",
	"Carlos", "Dana", "Elif", "François", "Gabriel", "Hannah", "Ivan", "Julia", "Karim", "Laura",
}

var lastNames = [...]string{
	"Doe", "Taylor", "Martin", "Smith", "Dubois", "Garcia", "Müller", "Rossi", "Nguyen", "Kowalski",
	"O'Brien", "Johansson", "Tanaka", "Silva", "Moreau", "Lefèvre", "Brown", "Khan", "Novak", "Costa",
	"Schmidt", "Jensen", "López", "Ivanova", "Chen", "Fernández", "Wilson", "Bernard", "Haddad", "Murphy",
}

var companyNames = [...]string{
	"Acme Inc", "lemlist", "Globex", "Initech", "Umbrella Corp", "Stark Industries", "Wayne Enterprises",
	"Hooli", "Pied Piper", "Soylent", "Cyberdyne", "Tyrell Corp", "Aperture Science", "Vandelay Industries",
	"Massive Dynamic", "Wonka Industries", "Oscorp", "Gringotts", "Monsters Inc", "Dunder Mifflin",
	"Nakatomi Trading", "Blue Sun", "Weyland-Yutani", "Prestige Worldwide", "Bluth Company",
	"Sterling Cooper", "Los Pollos Hermanos", "Krusty Krab", "Planet Express", "Black Mesa",
}

var jobTitles = [...]string{
	"Growth Engineer", "Head of Sales", "VP Marketing", "CTO", "CEO", "Founder", "SDR", "Account Executive",
	"RevOps Manager", "Head of Growth", "Marketing Manager", "Sales Director", "COO", "Product Manager",
}

var industries = [...]string{
	"Technology", "SaaS", "Fintech", "E-commerce", "Healthcare", "Education", "Logistics", "Media",
}

var leadStates = [...]string{
	"scanned", "contacted", "emailsOpened", "emailsClicked", "emailsReplied", "emailsUnsubscribed",
	"linkedinInviteAccepted", "linkedinReplied", "manualNotInterested", "interested", "paused", "review",
}

var leadSources = [...]string{"api", "manually", "csv", "hubspot", "linkedin", "chromeExtension"}

var emailStatuses = [...]string{"deliverable", "deliverable", "deliverable", "risky", "undeliverable", "unknown"}

var campaignStatuses = [...]string{"running", "paused", "ended", "draft", "archived", "errors"}

var campaignThemes = [...]string{
	"Unicorn campaign", "NEW TO DELETE", "Q3 outbound — SaaS CTOs", "Webinar follow-up", "Series A founders",
	"Re-engagement", "Event: SaaStr", "Partners EMEA", "LinkedIn warm-up", "Cold call blitz",
	"Product launch", "Churned customers", "Inbound MQL nurture", "Agency owners FR", "Holiday promo",
}

var emojis = [...]string{"🦄", "🚀", "📞", "🔥", "", ""}

var labels = [...]string{"outbound", "inbound", "test", "priority", "emea", "us"}

var timezones = [...]string{"Europe/Paris", "America/New_York", "Europe/London", "Asia/Tokyo"}

var templateNames = [...]string{"Blank", "Intro", "Follow-up 1", "Follow-up 2", "Break-up", "Case study"}

var subjects = [...]string{
	"Quick question about %s", "Idea for %s", "%s x lemlist", "Following up", "Worth a chat?",
}

var notes = [...]string{
	"could help our GTM team be more productive",
	"Spoke with the \"Head of Growth\"\nfollow-up in Q3",
	"Budget frozen until January — check back",
	"Uses a competitor; contract ends in March",
	"Intro via Marco <marco@example.com>, très intéressé",
}

var errorMessages = [...]string{
	"Mailbox unavailable", "550 5.1.1 The email account that you tried to reach does not exist",
	"LinkedIn session expired", "Daily limit reached", "Invalid phone number", "Template variable missing: {{icebreaker}}",
}

var teamUserNames = [...]string{
	"Guillaume Moubeche", "Claire Dupont", "Mehdi Benali", "Sofia Rossi", "Tom Becker", "Ana Lima", "Yuki Sato", "Liam Walsh",
}

var teamNames = [...]string{"Acme Growth", "Globex Sales", "Initech SDRs", "Hooli Outbound", "Pied Piper GTM"}

var conditionKeys = [...][2]string{
	{"emailsOpened", "Opened email"}, {"linkedinInviteAccepted", "Accepted invite"},
	{"hasPhone", "Has phone number"}, {"emailsClicked", "Clicked link"},
}

// accentFold maps the accented letters of the name tables to ASCII for
// e-mail addresses.
var accentFold = map[rune]string{
	'é': "e", 'è': "e", 'ë': "e", 'ï': "i", 'ü': "u", 'ö': "o", 'ø': "o", 'ó': "o",
	'á': "a", 'ç': "c", 'ñ': "n", 'É': "e", 'Ø': "o", '\'': "",
}
