package mirror

// Reconciliation: the lookback window on every ReconcileInterval, and all
// history on the slower full reconciliation.

import (
	"context"
	"fmt"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
)

// Reconcile re-reads the lookback window, [now-Lookback, CoveredTo]: it
// adds the activities missing from the mirror (late arrivals, published
// to OnIngest) and removes those lemlist no longer lists.
func (e *Engine) Reconcile(ctx context.Context) error {
	e.work.Lock()
	defer e.work.Unlock()
	return e.result(e.reconcile(ctx))
}

func (e *Engine) reconcile(ctx context.Context) error {
	if err := e.load(ctx); err != nil {
		return err
	}
	now := e.now()
	lo, hi := later(now.Add(-e.o.Lookback), e.st.Since), e.st.CoveredTo
	for hi.After(lo) || hi.Equal(lo) {
		sp, err := e.read(ctx, lo, hi, readWindow)
		if err != nil {
			return err
		}
		var st *State
		if sp.last {
			next := e.st
			next.LastReconciled = now
			st = &next
		}
		if err := e.diff(ctx, sp, st); err != nil {
			return err
		}
		if sp.last {
			return nil
		}
		hi = sp.from.Add(-time.Millisecond)
	}
	next := e.st
	next.LastReconciled = now
	_, err := e.commit(ctx, nil, nil, &next)
	return err
}

// ReconcileAll reconciles all history, [Since, CoveredTo], one committed
// span at a time; a full reconciliation interrupted by a restart resumes.
func (e *Engine) ReconcileAll(ctx context.Context) error { return e.untilDone(ctx, e.fullStep) }

// fullStep reconciles one span of the full reconciliation, starting one
// when none is running.
func (e *Engine) fullStep(ctx context.Context) (done bool, err error) {
	if err := e.load(ctx); err != nil {
		return false, err
	}
	st := e.st
	if st.FullTop.IsZero() {
		st.FullTop, st.FullCursor = st.CoveredTo, st.CoveredTo
	}
	sp, err := e.read(ctx, st.Since, st.FullCursor, readWindow)
	if err != nil {
		return false, err
	}
	st.FullCursor = sp.from.Add(-time.Millisecond)
	if sp.last {
		st.FullReconciled, st.FullCursor, st.FullTop = e.now(), time.Time{}, time.Time{}
	}
	return sp.last, e.diff(ctx, sp, &st)
}

// diff makes the stored activities of [sp.from, sp.to] match sp's: it
// upserts the missing or moved ones and deletes those lemlist no longer
// lists, except rows written since the read began (a webhook may have
// brought them after lemlist answered), and commits st with them. The
// rows it adds are published: a reconciliation may store a new row
// before the next poll does.
func (e *Engine) diff(ctx context.Context, sp span, st *State) error {
	stored, err := e.store.IDsInRange(ctx, e.tenant, sp.from, sp.to)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	have := make(map[string]time.Time, len(stored))
	for _, s := range stored {
		have[s.ID] = s.CreatedAt
	}
	upstream := make(map[string]bool, len(sp.rows))
	var add []*lemlist.Activity
	for _, a := range sp.rows {
		at := ms(a.CreatedAt)
		if at.Before(sp.from) || at.After(sp.to) {
			continue
		}
		upstream[a.ID] = true
		if c, ok := have[a.ID]; !ok || !c.Equal(at) {
			add = append(add, a)
		}
	}
	var dels []string
	for _, s := range stored {
		if !upstream[s.ID] && s.WrittenAt.Before(sp.readAt) {
			dels = append(dels, s.ID)
		}
	}
	res, err := e.commit(ctx, e.rows(add), dels, st)
	if err != nil {
		return err
	}
	e.added.Add(int64(len(res.Inserted)))
	e.removed.Add(int64(res.Deleted))
	e.notify(add, res)
	return nil
}
