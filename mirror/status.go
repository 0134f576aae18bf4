package mirror

import "time"

// SyncState is the engine's state as mirrorStatus reports it.
type SyncState string

// The states. The engine never reports StateOff itself: it is the
// server's answer when the mirror is off.
const (
	StateOff         SyncState = "OFF"
	StateBackfilling SyncState = "BACKFILLING"
	StateLive        SyncState = "LIVE"
	StateFailing     SyncState = "FAILING"
)

// Status is a tenant's mirror status, for mirrorStatus and metrics.
type Status struct {
	State SyncState
	// Activities is the number of stored activities.
	Activities int
	// CoveredFrom and CoveredTo bound what the mirror holds: every
	// activity created in [CoveredFrom, CoveredTo]. Zero before the first
	// sync.
	CoveredFrom, CoveredTo time.Time
	// AllTime is set when nothing older than CoveredFrom exists upstream.
	AllTime bool
	// Lag is how far CoveredTo is behind now.
	Lag time.Duration
	// LastReconciledAt is when the lookback window was last reconciled.
	LastReconciledAt time.Time
	// LastError is the last sync or store error, cleared by the next
	// successful step; empty when none.
	LastError string
	// Syncing is whether this engine runs the tenant's sync (it holds the
	// lease, when the store has leases).
	Syncing bool
	// BackfillProgress is the share of [Since, Start] the backfill has
	// read, 0 to 1.
	BackfillProgress float64
	// Counters count the engine's work since it was created.
	Counters Counters
}

// Covers reports whether the mirror holds every activity created from
// from on (a zero from means all time), as of CoveredTo.
func (s Status) Covers(from time.Time) bool {
	if s.CoveredTo.IsZero() {
		return false
	}
	if from.IsZero() {
		return s.AllTime
	}
	return !from.Before(s.CoveredFrom)
}

// Counters are monotonic counts for metrics.
type Counters struct {
	// Calls are the upstream list calls made.
	Calls int64
	// RowsWritten are the rows upserted, replays included; RowsInserted
	// those that were new.
	RowsWritten, RowsInserted int64
	// ReconcileAdded and ReconcileRemoved are the rows reconciliation
	// added (late arrivals) and removed (deleted upstream).
	ReconcileAdded, ReconcileRemoved int64
	// RepeatedPages are pages that brought no new id: offset drift.
	RepeatedPages int64
	// Failures are the failed steps.
	Failures int64
}
