package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/mirror"
	"github.com/lemlist-graphql/server/mirror/sqlite"
)

// benchNow is the 1M dataset's present; it spans the year before.
var benchNow = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

const million = 1_000_000

func channelOf(typ string) string {
	for _, p := range []struct{ prefix, ch string }{
		{"emails", "EMAIL"}, {"linkedin", "LINKEDIN"}, {"whatsapp", "WHATSAPP"}, {"sms", "SMS"},
		{"aircall", "CALL"}, {"manual", "MANUAL"}, {"api", "API"}, {"annotated", "NOTE"},
	} {
		if strings.HasPrefix(typ, p.prefix) {
			return p.ch
		}
	}
	return "OTHER"
}

// rowsOf decodes the fake's activities as the client would and converts
// them to rows.
func rowsOf(b testing.TB, acts []lemlisttest.Activity) []mirror.Row {
	rows := make([]mirror.Row, len(acts))
	for i, a := range acts {
		var act lemlist.Activity
		if err := json.Unmarshal(a.JSON(), &act); err != nil {
			b.Fatal(err)
		}
		rows[i] = mirror.RowOf(&act, channelOf)
	}
	return rows
}

// bigDB returns the path of a database holding the 1M-activity dataset
// (seed 1, a year) for tenant "big", built once and kept in the temp
// directory across runs (MIRROR_BENCH_DB overrides the path).
func bigDB(b testing.TB) string {
	path := os.Getenv("MIRROR_BENCH_DB")
	if path == "" {
		path = filepath.Join(os.TempDir(), "lemlist-mirror-bench-1M-v3.db")
	}
	if _, err := os.Stat(path); err == nil {
		return path
	}
	b.Logf("building %s (once)", path)
	fake := lemlisttest.NewServer(lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{
		Seed: 1, Activities: million, Now: benchNow, Span: 365 * 24 * time.Hour,
	}})
	defer fake.Close()
	all, err := fake.Expected(nil)
	if err != nil {
		b.Fatal(err)
	}
	tmp := path + ".building"
	os.Remove(tmp)
	s, err := sqlite.Open(context.Background(), tmp, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(all); i += 10_000 {
		batch := rowsOf(b, all[i:min(i+10_000, len(all))])
		if _, err := s.Apply(context.Background(), "big", mirror.Batch{Upserts: batch, At: benchNow}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	os.Remove(tmp + "-wal")
	os.Remove(tmp + "-shm")
	return path
}

var (
	bigOnce  sync.Once
	bigStore *sqlite.Store
)

// big opens the 1M database and loads its columns once per process.
func big(b *testing.B) *sqlite.Store {
	bigOnce.Do(func() {
		s, err := sqlite.Open(context.Background(), bigDB(b), sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if n, err := s.Count(context.Background(), "big"); err != nil || n != million {
			b.Fatalf("count %d, %v", n, err)
		}
		bigStore = s
	})
	return bigStore
}

// p50 runs fn b.N times and reports the median wall time and the median
// CPU time (the process's, which nothing else uses meanwhile) in ms: on a
// shared machine the CPU time is the steadier figure.
func p50(b *testing.B, fn func() error) {
	var wall, cpu []time.Duration
	for b.Loop() {
		start, c := time.Now(), cpuTime()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		wall, cpu = append(wall, time.Since(start)), append(cpu, cpuTime()-c)
	}
	slices.Sort(wall)
	slices.Sort(cpu)
	b.ReportMetric(float64(wall[len(wall)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(cpu[len(cpu)/2].Microseconds())/1000, "p50-cpu-ms")
}

// BenchmarkStats1M: activityStats over the 1M-activity year.
func BenchmarkStats1M(b *testing.B) {
	s := big(b)
	paris, _ := time.LoadLocation("Europe/Paris")
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	last90 := mirror.Filter{From: benchNow.Add(-90 * 24 * time.Hour), To: benchNow}
	for _, bc := range []struct {
		name string
		q    mirror.StatsQuery
	}{
		{"day×campaign-90d", mirror.StatsQuery{Filter: last90, GroupBy: []mirror.Dim{mirror.DimDay, mirror.DimCampaign}, Location: paris}},
		{"day×campaign-90d+rates", mirror.StatsQuery{Filter: last90, GroupBy: []mirror.Dim{mirror.DimDay, mirror.DimCampaign}, Location: paris, Rates: true}},
		{"day×campaign-90d-kolkata", mirror.StatsQuery{Filter: last90, GroupBy: []mirror.Dim{mirror.DimDay, mirror.DimCampaign}, Location: kolkata}},
		{"type×user-alltime", mirror.StatsQuery{GroupBy: []mirror.Dim{mirror.DimType, mirror.DimUser}}},
		{"email-campaigns+isFirst-90d", mirror.StatsQuery{Filter: mirror.Filter{
			Channels: []string{"EMAIL"}, IsFirst: new(true), From: last90.From, To: last90.To,
		}, GroupBy: []mirror.Dim{mirror.DimCampaign}, Rates: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p50(b, func() error { _, err := s.Stats(context.Background(), "big", bc.q); return err })
		})
	}
}

// BenchmarkSeries1M: activitySeries over the 1M-activity year.
func BenchmarkSeries1M(b *testing.B) {
	s := big(b)
	ny, _ := time.LoadLocation("America/New_York")
	year := mirror.Filter{From: benchNow.Add(-365 * 24 * time.Hour), To: benchNow}
	for _, bc := range []struct {
		name string
		q    mirror.SeriesQuery
	}{
		{"daily-year", mirror.SeriesQuery{Filter: year, Interval: mirror.Day, Location: ny}},
		{"daily-year×campaign", mirror.SeriesQuery{Filter: year, Interval: mirror.Day, Location: ny, GroupBy: []mirror.Dim{mirror.DimCampaign}}},
		{"hourly-30d×channel", mirror.SeriesQuery{Filter: mirror.Filter{From: benchNow.Add(-30 * 24 * time.Hour), To: benchNow},
			Interval: mirror.Hour, Location: ny, GroupBy: []mirror.Dim{mirror.DimChannel}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p50(b, func() error { _, err := s.Series(context.Background(), "big", bc.q); return err })
		})
	}
}

// BenchmarkColdLoad1M: opening the 1M database and loading the tenant's
// columns and id index, as the first query after a start does.
func BenchmarkColdLoad1M(b *testing.B) {
	path := bigDB(b)
	p50(b, func() error {
		s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
		if err != nil {
			return err
		}
		defer s.Close()
		if n, err := s.Count(context.Background(), "big"); err != nil || n != million {
			return fmt.Errorf("count %d, %v", n, err)
		}
		return nil
	})
}

// BenchmarkDBSize reports the 1M database's size on disk.
func BenchmarkDBSize(b *testing.B) {
	path := bigDB(b)
	for b.Loop() {
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "MiB/1M")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIngestPage: the CPU of storing one 100-row page of new rows
// (Apply), the decode and RowOf excluded (see lemlist's benchmarks), into
// an empty database and into the 1M-activity one (a copy).
func BenchmarkIngestPage(b *testing.B) {
	const pages = 1000
	fake := lemlisttest.NewServer(lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{Seed: 3, Activities: pages * 100}})
	all, _ := fake.Expected(nil)
	rows := rowsOf(b, all) // Raw holds no pointers: little for the GC to mark
	all = nil
	fake.Close()
	for _, bc := range []struct {
		name   string
		tenant string
		db     func(b *testing.B) string
	}{
		{"empty", "t", func(b *testing.B) string { return filepath.Join(b.TempDir(), "m.db") }},
		{"into-1M", "big", func(b *testing.B) string { return copyFile(b, bigDB(b), filepath.Join(b.TempDir(), "m.db")) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := sqlite.Open(b.Context(), bc.db(b), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Count(b.Context(), bc.tenant); err != nil { // loads the columns
				b.Fatal(err)
			}
			i := 0
			page := make([]mirror.Row, 100)
			runtime.GC() // the setup's garbage is not the ingest's
			cpu := cpuTime()
			for b.Loop() {
				// Every page is new: past the dataset's end, the ids get
				// the round's number.
				copy(page, rows[(i%pages)*100:(i%pages+1)*100])
				if round := i / pages; round > 0 {
					for k := range page {
						page[k].ID += "~" + strconv.Itoa(round)
					}
				}
				res, err := s.Apply(b.Context(), bc.tenant, mirror.Batch{Upserts: page, At: benchNow})
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Inserted) != len(page) {
					b.Fatalf("page %d: %d rows inserted, want %d", i, len(res.Inserted), len(page))
				}
				i++
			}
			b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/page")
		})
	}
}

// BenchmarkIngestFromHTTP: the process CPU of the whole ingest of one
// 100-row page as the engine does it: the HTTP call (to a loopback server
// answering with a prepared page), the client's decode of summaries
// (lemlist.WithSummaries), RowOf and Apply, into an empty database. The
// server's share, writing a prepared body, is in the figure too.
func BenchmarkIngestFromHTTP(b *testing.B) {
	const pages = 1000
	fake := lemlisttest.NewServer(lemlisttest.Options{Dataset: lemlisttest.DatasetOptions{Seed: 3, Activities: pages * 100}})
	all, _ := fake.Expected(nil)
	fake.Close()
	bodies := make([][]byte, pages)
	for p := range bodies {
		var buf bytes.Buffer
		buf.WriteByte('[')
		for k, a := range all[p*100 : (p+1)*100] {
			if k > 0 {
				buf.WriteByte(',')
			}
			buf.Write(a.JSON())
		}
		buf.WriteByte(']')
		bodies[p] = buf.Bytes()
	}
	all = nil
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := bodies[served.Add(1)%pages]
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	defer srv.Close()
	c, err := lemlist.NewClient("key", lemlist.WithBaseURL(srv.URL), lemlist.WithRateLimit(0, 0))
	if err != nil {
		b.Fatal(err)
	}
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "m.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := lemlist.WithSummaries(b.Context())
	i := 0
	runtime.GC()
	cpu := cpuTime()
	for b.Loop() {
		page, _, err := c.Activities.List(ctx, &lemlist.ActivityListOptions{Limit: 100})
		if err != nil || len(page) != 100 || !page[0].Summary {
			b.Fatalf("page: %d rows, %v", len(page), err)
		}
		rows := make([]mirror.Row, len(page))
		for k, a := range page {
			rows[k] = mirror.RowOf(a, channelOf)
			if round := i / pages; round > 0 { // every page new, as in IngestPage
				rows[k].ID += "~" + strconv.Itoa(round)
			}
		}
		if _, err := s.Apply(b.Context(), "t", mirror.Batch{Upserts: rows, At: benchNow}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/page")
}

// copyFile copies the database at from to to and returns to.
func copyFile(b *testing.B, from, to string) string {
	src, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		b.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		b.Fatal(err)
	}
	return to
}

// BenchmarkRSS1M reports the peak RSS of a process that opens the 1M
// database, loads its columns and answers the benchmarks' queries (this
// test binary, re-executed: the fake and the build are not in it).
func BenchmarkRSS1M(b *testing.B) {
	path := bigDB(b)
	var kb int
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRSSChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "MIRROR_RSS_DB="+path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmHWM_KB="); ok {
				kb, _ = strconv.Atoi(v)
			}
		}
	}
	if kb == 0 {
		b.Fatal("no VmHWM from the child")
	}
	b.ReportMetric(float64(kb)/1024, "peak-RSS-MiB")
}

// TestRSSChild is BenchmarkRSS1M's child.
func TestRSSChild(t *testing.T) {
	path := os.Getenv("MIRROR_RSS_DB")
	if path == "" {
		t.Skip("run by BenchmarkRSS1M")
	}
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	paris, _ := time.LoadLocation("Europe/Paris")
	for range 20 {
		if _, err := s.Stats(t.Context(), "big", mirror.StatsQuery{Filter: mirror.Filter{From: benchNow.Add(-90 * 24 * time.Hour)},
			GroupBy: []mirror.Dim{mirror.DimDay, mirror.DimCampaign}, Location: paris, Rates: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Series(t.Context(), "big", mirror.SeriesQuery{Filter: mirror.Filter{From: benchNow.Add(-365 * 24 * time.Hour), To: benchNow},
			Interval: mirror.Day, GroupBy: []mirror.Dim{mirror.DimCampaign}}); err != nil {
			t.Fatal(err)
		}
	}
	// A small ingest too, as the live server does.
	r := mirror.Row{ID: "act_rss", Type: "emailsSent", Channel: "EMAIL", CreatedAt: benchNow, Raw: json.RawMessage(`{}`)}
	if _, err := s.Apply(t.Context(), "big", mirror.Batch{Upserts: []mirror.Row{r}, Deletes: []string{"act_rss"}, At: benchNow}); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc")
	}
	for _, line := range strings.Split(string(status), "\n") {
		if os.Getenv("MIRROR_RSS_DEBUG") != "" && strings.HasPrefix(line, "Rss") { // anonymous and file-backed
			fmt.Println(line)
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Printf("VmHWM_KB=%s\n", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
}
