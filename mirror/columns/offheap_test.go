//go:build unix

package columns

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/mirror"
)

// TestOffHeapBlocks fills a table past several blocks while other
// goroutines query it and the collector runs, then drops it: its mappings
// are unmapped once it is unreachable, and not before.
func TestOffHeapBlocks(t *testing.T) {
	const rows = 3*blockSize + 17
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tbl := New()
	mem := tbl.mem
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := tbl.Stats(mirror.StatsQuery{GroupBy: []mirror.Dim{mirror.DimType}}); err != nil {
					t.Error(err)
					return
				}
				runtime.GC()
			}
		})
	}
	for i := range rows {
		r := mirror.Row{ID: "x", Type: "emailsSent", CreatedAt: at.Add(time.Duration(i) * time.Second)}
		if err := tbl.Update(func(w *Writer) error { return w.Upsert(int64(i+1), &r) }); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	st, err := tbl.Stats(mirror.StatsQuery{})
	if err != nil || st.Total != rows {
		t.Fatalf("total %+v %v, want %d", st, err, rows)
	}
	if n := regions(mem); n != 4 {
		t.Fatalf("%d mappings, want 4", n)
	}
	tbl = nil
	for deadline := time.Now().Add(10 * time.Second); regions(mem) != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the dropped table's blocks are still mapped")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

func regions(o *offHeap) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.regions)
}
