package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Store holds the mirrored activities of every tenant and each tenant's
// sync state. The engine is its consumer and owns this interface; the
// SQLite implementation lives in mirror/sqlite, and mirror/storetest is
// the contract suite every implementation passes.
//
// Times are kept to the millisecond, as lemlist dates them. Every method is
// safe for concurrent use, and each is atomic: a reader sees a Batch
// wholly or not at all.
type Store interface {
	// LoadState returns the tenant's sync state; ok is false when the
	// tenant has never been synced.
	LoadState(ctx context.Context, tenant string) (st State, ok bool, err error)
	// Apply writes b in one transaction: its upserts (by id), its
	// deletions and, when b.State is set, the new state. On error nothing
	// is written.
	Apply(ctx context.Context, tenant string, b Batch) (Applied, error)
	// IDsInRange returns the id, createdAt and write time of each stored
	// activity created in [from, to] (both inclusive), for reconciliation.
	IDsInRange(ctx context.Context, tenant string, from, to time.Time) ([]Stored, error)
	// Count returns the number of activities stored for the tenant.
	Count(ctx context.Context, tenant string) (int, error)
	// Get returns one stored activity; ok is false when there is none.
	Get(ctx context.Context, tenant, id string) (r Row, ok bool, err error)
	// Stats answers activityStats over the stored activities.
	Stats(ctx context.Context, tenant string, q StatsQuery) (*Stats, error)
	// Series answers activitySeries over the stored activities.
	Series(ctx context.Context, tenant string, q SeriesQuery) (*Series, error)
	// Close releases the store.
	Close() error
}

// Leaser is implemented by stores that several server processes share
// (PostgreSQL, issue 14): a tenant is synced only by the holder of its
// lease. A store that does not implement it (SQLite: one process) makes
// every engine the holder.
type Leaser interface {
	// AcquireLease takes or renews the tenant's lease for holder until
	// ttl from now, and reports whether holder has it.
	AcquireLease(ctx context.Context, tenant, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease up if holder has it.
	ReleaseLease(ctx context.Context, tenant, holder string) error
}

// ErrInvalidQuery wraps the errors of an aggregate query the store
// refuses (an unknown dimension, a missing range, too many buckets).
var ErrInvalidQuery = errors.New("mirror: invalid query")

// Row is one mirrored activity: the columns aggregates filter and group
// on, and the upstream JSON.
type Row struct {
	ID      string
	Type    string
	Channel string
	// CampaignID, LeadID, ContactID and UserID are empty when the activity
	// has none; UserID is the actor, else the sender, else the creator
	// (see UserOf).
	CampaignID, LeadID, ContactID, UserID string
	// CreatedAt is lemlist's createdAt, to the millisecond.
	CreatedAt time.Time
	// IsFirst is true only when lemlist says isFirst: true.
	IsFirst bool
	// SequenceStep is the zero-indexed step, nil when absent.
	SequenceStep *int
	// Raw is the activity as lemlist served it.
	Raw json.RawMessage
}

// Stored is what IDsInRange reports of a stored activity.
type Stored struct {
	ID        string
	CreatedAt time.Time
	// WrittenAt is the Batch.At of the last write of the row.
	WrittenAt time.Time
}

// Batch is one atomic write.
type Batch struct {
	// Upserts are inserted, or replace the stored row with the same ID.
	Upserts []Row
	// Deletes are ids to remove; unknown ids are ignored.
	Deletes []string
	// State, when set, replaces the tenant's sync state.
	State *State
	// At is the write's time, recorded as Stored.WrittenAt.
	At time.Time
	// Holder, when set, fences the write with the tenant's lease: a
	// Leaser store writes the batch only while Holder holds the lease,
	// and returns ErrLeaseLost, writing nothing, once another holder has
	// taken it. Stores that are not Leasers ignore it.
	Holder string
}

// ErrLeaseLost is returned by Apply for a batch whose Holder no longer
// holds the tenant's lease: another process syncs the tenant now.
var ErrLeaseLost = errors.New("mirror: the tenant's lease is held by another process")

// Applied reports what a Batch changed.
type Applied struct {
	// Inserted are the indexes in Batch.Upserts of the rows that were not
	// stored before (the others replaced a stored row).
	Inserted []int
	// Deleted is the number of rows removed.
	Deleted int
}

// State is a tenant's sync checkpoint. The engine writes it in the same
// transaction as the rows it describes, so it is never ahead of them.
type State struct {
	// Since is the oldest createdAt the backfill reads.
	Since time.Time
	// Start is when the backfill began: it reads [Since, Start], the head
	// polls read after it.
	Start time.Time
	// Cursor is the backfill's progress: every activity created in
	// (Cursor, Start] is stored. It starts at Start and goes down.
	Cursor time.Time
	// BackfillDone is set when the backfill has read down to Since.
	BackfillDone bool
	// AllTime is set when the backfill found nothing older than Since:
	// the mirror then holds every activity up to CoveredTo.
	AllTime bool
	// CoveredTo is the head: every activity created in (Start, CoveredTo]
	// is stored, as of the last poll. It is the engine's clock at that
	// poll, never a row's createdAt: rows dated later may be stored too.
	CoveredTo time.Time
	// LastReconciled is when the last reconciliation of the lookback
	// window completed.
	LastReconciled time.Time
	// FullReconciled is when the last reconciliation of all history
	// completed.
	FullReconciled time.Time
	// FullCursor is the progress of a running full reconciliation: the
	// activities created in (FullCursor, FullTop] have been reconciled.
	// Zero when none is running.
	FullCursor, FullTop time.Time
}

// CoveredFrom is the oldest createdAt from which the mirror holds every
// activity: Since once the backfill is done, else just above its cursor.
func (s State) CoveredFrom() time.Time {
	if s.BackfillDone {
		return s.Since
	}
	return s.Cursor.Add(time.Millisecond)
}
