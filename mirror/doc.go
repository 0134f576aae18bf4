// Package mirror keeps an incremental copy of each tenant's lemlist
// activities in a Store, so that dashboards get exact aggregates in
// milliseconds without spending the key's budget of 20 calls per 2 s.
//
// One Engine syncs one tenant (one API key). Its promises:
//
//   - Backfill. From Since (default a year ago) to Start (when the
//     backfill began), newest first, in closed windows [Since, cursor]:
//     maxDate is frozen, so activities created meanwhile cannot shift the
//     pages. Each call asks for the newest 100 rows at or before the
//     cursor; the next one continues at the second of the page's oldest
//     createdAt, re-reading the rows that share it (keyset paging: offsets
//     never grow, a deletion or late arrival elsewhere cannot make a page
//     skip or repeat a row, an empty stretch of history costs nothing, and
//     N activities cost about N/99 calls). More than a page of rows within
//     one second is read with offsets inside that second; a page that
//     brings no new id is counted as repeated (offset drift). Each page's
//     rows and the cursor they complete are written in one transaction,
//     so a crash never leaves the checkpoint ahead of the rows, and
//     upserts by id make the re-read harmless.
//   - Whole seconds. minDate and maxDate go upstream as whole seconds
//     (minDate rounded down, maxDate up): lemlist documents them to the
//     second and leaves open whether milliseconds count, and a whole
//     second means the same either way. The extra rows at a window's ends
//     are upserted by id, or left out of reconciliation's comparison.
//   - All time. The backfill's calls leave minDate unset: the page that
//     crosses Since shows whether anything older exists, at no extra
//     call. When nothing does, the mirror covers all time and a filter
//     without dates can be answered from it. An empty history costs one
//     call.
//   - Head. Every PollInterval, [CoveredTo-HeadOverlap, now] and anything
//     newer is read the same way (the first call leaves maxDate unset);
//     the last page's batch moves CoveredTo to now. Ingest stores what
//     the webhook brings. OnIngest receives the rows new to the mirror (a
//     row that both a poll and a webhook bring is published once).
//   - A future createdAt is clamped: CoveredTo, the cursors and every
//     window end at the engine's clock, never at a row's date. A row dated
//     after the clock (lemlist's runs ahead, or it dates one in the
//     future) is stored as dated and counted from the first poll or
//     webhook that brings it; reconciliation stops at CoveredTo, so it
//     neither deletes such a row nor adds it again, and later polls only
//     re-read it (not inserted, not published) until the clock passes
//     its date.
//   - Reconciliation. Every ReconcileInterval, [now-Lookback, CoveredTo]
//     is re-read page by page: each page's range is compared with the
//     store's ids in it; missing rows (late arrivals) are added, rows
//     lemlist no longer lists are deleted, unless written after the page
//     was read. Every FullReconcileInterval, all history is reconciled the
//     same way, resumably. Rows reconciliation adds are published like
//     the head's.
//   - Restart. The state is loaded from the store: a tenant with a state
//     never starts a new backfill.
//   - Failures. A failing store or upstream makes the status FAILING with
//     the error; Run retries with backoff. The engine never panics on one.
//
// Upstream calls go through a ListFunc (the tenant's uncached client,
// sharing the key's limiter with interactive queries) with a context
// marked by Options.Background, so interactive queries go first.
//
// Aggregates (Stats, Series) are the Store's: mirror/sqlite answers them
// from in-memory columns (mirror/columns). mirror/storetest is the
// contract suite every Store passes.
package mirror
