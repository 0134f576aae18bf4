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
//     cursor; the next one continues at the page's oldest createdAt,
//     re-reading the rows that share it (keyset paging: offsets never
//     grow, a deletion or late arrival elsewhere cannot make a page skip
//     or repeat a row, an empty stretch of history costs nothing, and N
//     activities cost about N/99 calls). More than a page of rows at one
//     instant is read with offsets inside [t-1ms, t]; a page that brings
//     no new id is counted as repeated (offset drift). Each page's rows
//     and the cursor they complete are written in one transaction, so a
//     crash never leaves the checkpoint ahead of the rows, and upserts by
//     id make the re-read harmless.
//   - All time. The backfill's calls leave minDate unset: the page that
//     crosses Since shows whether anything older exists, at no extra
//     call. When nothing does, the mirror covers all time and a filter
//     without dates can be answered from it. An empty history costs one
//     call.
//   - Head. Every PollInterval, the frozen window [CoveredTo-HeadOverlap,
//     now] is read the same way; the last page's batch moves CoveredTo to
//     now. A createdAt in the future never moves the checkpoint: windows
//     end at the engine's now. Ingest stores what the webhook brings.
//     OnIngest receives the rows new to the mirror (a row that both a
//     poll and a webhook bring is published once).
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
