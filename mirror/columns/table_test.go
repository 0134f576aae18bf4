package columns_test

import (
	"context"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/columns"
	"github.com/lemlist-graphql/server/mirror/storetest"
)

// tableStore answers the aggregate methods from a bare Table.
type tableStore struct {
	mirror.Store // nil: only the methods below are called
	t            *columns.Table
}

func (s tableStore) Count(context.Context, string) (int, error) { return s.t.Len(), nil }
func (s tableStore) Stats(_ context.Context, _ string, q mirror.StatsQuery) (*mirror.Stats, error) {
	return s.t.Stats(q)
}
func (s tableStore) Series(_ context.Context, _ string, q mirror.SeriesQuery) (*mirror.Series, error) {
	return s.t.Series(q)
}

// TestSparseCounters runs the brute-force checks with every count in a
// map, the path of large key spaces (hours × campaigns × users...).
func TestSparseCounters(t *testing.T) {
	defer columns.SetMaxDense(0)()
	end := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC) // after the autumn DST changes
	rows := storetest.RandomRows(5, storetest.Scale(2000), end, 50*24*time.Hour)
	tb := columns.New()
	err := tb.Update(func(w *columns.Writer) error {
		for i := range rows {
			if err := w.Upsert(int64(i+1), &rows[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s := tableStore{t: tb}
	storetest.CheckStats(t, s, "", rows, storetest.Queries(6, rows, storetest.Scale(60)))
	storetest.CheckSeries(t, s, "", rows, end.Add(-40*24*time.Hour), end, []mirror.Dim{mirror.DimType, mirror.DimUser}, mirror.Filter{})
}

func TestKeysMustGrow(t *testing.T) {
	tb := columns.New()
	r := mirror.Row{ID: "a", Type: "emailsSent", CreatedAt: time.Unix(1, 0)}
	err := tb.Update(func(w *columns.Writer) error {
		if err := w.Upsert(5, &r); err != nil {
			return err
		}
		if err := w.Upsert(5, &r); err != nil { // an update
			return err
		}
		w.Delete(5)
		w.Delete(9)
		return w.Upsert(3, &r)
	})
	if err == nil {
		t.Error("a new key below the newest was accepted")
	}
	if tb.Len() != 0 {
		t.Errorf("Len %d after the delete", tb.Len())
	}
}
