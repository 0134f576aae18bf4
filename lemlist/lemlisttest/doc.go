// Package lemlisttest is an in-process fake of lemlist's REST API
// (https://api.lemlist.com/api), shaped like net/http/httptest: NewServer
// starts it on 127.0.0.1, Server.URL is the API root, Server.Client returns a
// lemlist.Client wired to it, and Server.Handler mounts it anywhere.
//
//	srv := lemlisttest.NewServer(lemlisttest.Options{})
//	defer srv.Close()
//	page, _, err := srv.Client().Activities.List(ctx, &lemlist.ActivityListOptions{Type: "emailsReplied"})
//
// The fake renders every answer from its own records with its own JSON
// writer, never through package lemlist's types, so a wrong struct tag in
// the client fails a contract test instead of round-tripping silently.
//
// # Data
//
// Each tenant (a team with one API key) gets a deterministic dataset drawn
// from DatasetOptions: users (usr_), campaigns (cam_) with a sequence
// (seq_, stp_, etp_) and a status among running, paused, draft, ended,
// archived and errors, contacts (ctc_) and campaign-scoped leads (lea_): a
// person enrolled in two campaigns has one contact id and two lead ids.
// Activities (act_, 17-character suffixes like every id) cover every
// channel — email, LinkedIn, WhatsApp, SMS, calls, manual tasks, API steps,
// company notes ("annotated": companyId and note, no lead or campaign),
// lifecycle events, enrichment — plus types no client knows
// ("quantumTeleported", "hologramSent"). Fields follow lemlist's examples:
// metaData, the denormalised lead* fields (absent on some rows), the
// embedded lead snapshot (absent on some rows), campaignName and name,
// zero-indexed sequenceStep and totalSequenceStep (the index of the last
// step), stepId on some rows, relatedSentAt on the non-"sent" side,
// sequenceTested, isFirst on engagement types. About 3% of activities share
// their createdAt with the previous one. Tenants that leave Seed unset are
// seeded from their name, so their ids differ. A million activities take
// about a second and under 150 MB.
//
// # GET /activities contract
//
//   - version=v2 is required: otherwise 400 "version v2 is mandatory".
//   - limit defaults to 100; it must be an integer in 1..100, so limit=0,
//     limit=101, negative or non-numeric values are 400 (an empty limit= is
//     the default). offset defaults to 0 and must be a non-negative integer;
//     an offset past the end answers [].
//   - type, campaignId and leadId match exactly; an unknown value answers []
//     (never 400, never {}). A leadId of another campaign than campaignId
//     answers []. Company notes have no campaign, so any campaignId or
//     leadId filter excludes them.
//   - isFirst must be "true" or "false" (else 400). isFirst=false also
//     matches activities that have no isFirst field. isFirst is true on a
//     lead's oldest activity of a given type, for the types that carry it.
//   - minDate/maxDate, or their aliases startDate/endDate, bound createdAt,
//     both inclusive. A value is unix seconds (an integer, even a 13-digit
//     one) or ISO 8601: RFC 3339 with or without fractional seconds, Z or an
//     offset; a date-time without zone and a bare date (2026-05-11) are UTC.
//     Precision beyond the millisecond is truncated (beyond
//     Options.DatePrecision when set). The primary name wins
//     when both are non-empty, even when its value is invalid; an empty
//     value counts as absent. An unparsable date is 400 "<name> must be a
//     unix timestamp in seconds or an ISO 8601 date"; maxDate <= minDate is
//     400 "maxDate must be strictly greater than minDate".
//   - Results are newest first; equal createdAt are ordered by _id,
//     descending (byte order).
//   - Parameters are checked in the order version, paging, isFirst, dates.
//
// # Everything else
//
//   - Auth: HTTP Basic (any username, the key as password) or
//     ?access_token=KEY; Basic wins when both are present. A missing or
//     unknown key is 401 text/plain "The authentication you supplied is
//     incorrect". Request logs keep a hash of the key, never the key, and
//     drop access_token from the query.
//   - Rate limit: a sliding window of Options.RateLimit requests per
//     Options.RateWindow per key (lemlist's 20 per 2 s by default). Every
//     authenticated answer, 200 included, carries X-RateLimit-Limit,
//     X-RateLimit-Remaining, X-RateLimit-Reset (a JavaScript Date string, in
//     UTC) and Retry-After (fractional seconds until the oldest request in
//     the window leaves it, rounded up to the millisecond). Over the limit:
//     429 text/plain "Too Many Requests"; a refused request uses no budget.
//     Tenant.MaxInWindow reports the most accepted requests seen in one
//     window.
//   - Lookups: GET /leads?id= or ?email= (email wins; by email, the
//     person's first lead; 404 "Lead not found"; neither is 400), GET
//     /leads/{email} (an array with version=v2, else a flat object), GET
//     /contacts?idsOrEmails= (at most 100 values, else 400; a plain array in
//     dataset order, missing values dropped), GET /contacts (a page
//     {data,total,limit,offset}), GET /contacts/{idOrEmail} (404 "Contact
//     not found"), GET /campaigns/{id} (404 "Campaign not found"), GET
//     /campaigns (with version=v2 {campaigns,pagination}, else an array;
//     limit, offset, page, status, sortOrder), GET /team (users only with
//     version=v2).
//   - Hooks: POST /hooks (a JSON body {targetUrl, type, secret,
//     campaignId, isFirst}, campaignId and isFirst also as query
//     parameters; a targetUrl that is not an absolute http(s) URL is 400),
//     GET /hooks, DELETE /hooks/{id} (404 "Webhook not found"). Answers
//     never hold the secret; Tenant.Hooks returns it, and
//     Tenant.CallHooks calls the hooks an activity fires, as lemlist does.
//   - Any other path answers 200 text/html with a web-app shell, without
//     authentication or rate limiting, as lemlist does. A known path with a
//     method other than GET (POST and DELETE on the hooks) is 405.
//   - Test hooks: Requests, CountRequests, ResetRequests; Tenant.Revoke
//     (the key is refused with 401 from then on); InjectFault and
//     FailNext (faults apply after authentication and rate limiting, so a
//     faulted request uses budget); Tenant.Insert and InsertActivities add
//     activities on top, each one second after the current newest, to
//     reproduce offset drift; Tenant.Insert with ActivitySpec.CreatedAt
//     adds a late arrival (visible from now on, dated in the past);
//     Tenant.Delete removes activities; Tenant.Expected returns exactly what
//     GET /activities would serve for a filter, unpaged, as Activity values
//     whose JSON method renders the served bytes.
//
// # Differences from lemlist
//
//   - The data is statistically plausible, not causal: an emailsOpened may
//     have no emailsSent before it, relatedSentAt points at no stored row,
//     and a lead snapshot shows the lead's current state.
//   - Undocumented behaviour is a guess, made strict: the 400 bodies, the
//     429 body, limit=0, isFirst on activities without the field, unknown
//     type values ([] here; lemlist may answer 400 or {}), the aggregate
//     types (contacted, hooked…) which match nothing here.
//   - No 402 plan gating, no 403, no Cloudflare pages; inject them with
//     Fault when needed.
//   - Only the routes above exist; the rest of the API (sequences,
//     exports, users, tasks, inbox…) answers the HTML shell. Hooks never
//     fire on their own: only Tenant.CallHooks calls them.
//   - Rate-limit headers are omitted when limiting is disabled; X-RateLimit-
//     Reset is in UTC rather than the server's zone.
//   - Data never changes on its own: only Insert and InsertActivities add
//     rows (StartEmitting calls InsertActivities on a timer, and can post
//     each new row to a webhook URL with a secret, as lemlist's hooks do),
//     and only Delete removes them.
//   - isFirst is decided when an activity is added: a late arrival is
//     first only if its lead had no activity of its type yet, and deleting
//     a first activity makes no other one first.
//   - Delete and a late Insert rebuild the tenant's indexes: O(n), fine in
//     tests, not in a loop over a 1M-activity tenant.
package lemlisttest
