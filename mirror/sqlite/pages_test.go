package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/s2"

	"github.com/lemlist-graphql/server/mirror"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func testRow(id string, at time.Time) mirror.Row {
	return mirror.Row{ID: id, Type: "emailsSent", Channel: "EMAIL", CampaignID: "cam_1", LeadID: "lea_1",
		ContactID: "ctc_1", UserID: "usr_1", CreatedAt: at, Raw: json.RawMessage(`{"_id":"` + id + `"}`)}
}

func openTest(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustApply(t *testing.T, s *Store, b mirror.Batch) mirror.Applied {
	t.Helper()
	if b.At.IsZero() {
		b.At = t0
	}
	res, err := s.Apply(t.Context(), "t", b)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// tableCount counts the rows of a table.
func tableCount(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIDIndex checks the index against a map, through growth and
// deletions, with fingerprints drawn from a small range so that probe
// runs collide and wrap around.
func TestIDIndex(t *testing.T) {
	x := newIDIndex(maphash.MakeSeed(), 0)
	type entry struct {
		fp  uint32
		key int64
	}
	live := map[entry]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20_000 {
		if i%3 == 2 && len(live) > 0 {
			for e := range live { // remove an arbitrary entry
				x.remove(e.fp, e.key)
				delete(live, e)
				break
			}
			continue
		}
		// A few high fingerprints make runs that wrap past the end.
		fp := uint32(rng.IntN(64)) << 26
		e := entry{fp, int64(i + 1)}
		x.add(e.fp, e.key)
		live[e] = true
	}
	if x.n != len(live) {
		t.Fatalf("n = %d, want %d", x.n, len(live))
	}
	byFP := map[uint32][]int64{}
	for e := range live {
		byFP[e.fp] = append(byFP[e.fp], e.key)
	}
	for fp, want := range byFP {
		var got []int64
		x.candidates(fp, func(k int64) bool { got = append(got, k); return true })
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("fingerprint %x: candidates %v, want %v", fp, got, want)
		}
	}
	x.remove(3, 999_999) // unknown: no change
	if x.n != len(live) {
		t.Fatal("removing an unknown entry changed the index")
	}
}

// TestFingerprintCollision makes another id's row a candidate for an id
// (as a fingerprint collision would): the store checks the stored id, so
// Get does not answer with the other row and an upsert is an insert.
func TestFingerprintCollision(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "m.db"))
	mustApply(t, s, mirror.Batch{Upserts: []mirror.Row{testRow("act_y", t0)}})
	td, err := s.tenantData(t.Context(), "t")
	if err != nil {
		t.Fatal(err)
	}
	var keyY int64
	td.ids.candidates(td.ids.fingerprint("act_y"), func(k int64) bool { keyY = k; return false })
	td.ids.add(td.ids.fingerprint("act_x"), keyY)
	if _, ok, err := s.Get(t.Context(), "t", "act_x"); ok || err != nil {
		t.Fatalf("Get act_x: %v, %v; want not found", ok, err)
	}
	res := mustApply(t, s, mirror.Batch{Upserts: []mirror.Row{testRow("act_x", t0)}})
	if !slices.Equal(res.Inserted, []int{0}) {
		t.Fatalf("act_x was taken for act_y: %+v", res)
	}
	if got, ok, _ := s.Get(t.Context(), "t", "act_y"); !ok || got.ID != "act_y" {
		t.Fatalf("act_y: %+v %v", got, ok)
	}
	if n, _ := s.Count(t.Context(), "t"); n != 2 {
		t.Fatalf("count %d, want 2", n)
	}
}

// TestNewRowsReadNoPage: storing new rows costs no read of a stored page,
// for a fingerprint rarely matches another id's (it did once, when the
// fingerprint was a third of its size, and then a page was read for one
// row in five).
func TestNewRowsReadNoPage(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "m.db"))
	const pages = 500
	for p := range pages {
		rows := make([]mirror.Row, 100)
		for k := range rows {
			rows[k] = testRow(fmt.Sprintf("act_%d_%d", p, k), t0.Add(time.Duration(p*100+k)*time.Second))
		}
		if res := mustApply(t, s, mirror.Batch{Upserts: rows}); len(res.Inserted) != 100 {
			t.Fatalf("page %d: %d inserted", p, len(res.Inserted))
		}
	}
	// 50,000 ids: about 0.3 matches expected (n^2/2^33).
	if n := s.applyReads.Load(); n > 5 {
		t.Fatalf("%d pages read to store %d new rows", n, pages*100)
	}
	// A replay of a page reads its one page.
	before := s.applyReads.Load()
	rows := make([]mirror.Row, 100)
	for k := range rows {
		rows[k] = testRow(fmt.Sprintf("act_%d_%d", 7, k), t0.Add(time.Duration(7*100+k)*time.Second))
	}
	if res := mustApply(t, s, mirror.Batch{Upserts: rows}); len(res.Inserted) != 0 {
		t.Fatalf("replay inserted %d", len(res.Inserted))
	}
	if n := s.applyReads.Load() - before; n != 1 {
		t.Fatalf("a replayed page read %d pages, want 1", n)
	}
}

// TestPagesLifecycle follows rows through replays, updates and deletions:
// an unchanged replay writes no page, a page whose rows are all dead is
// deleted with its marks, and a reopened store sees what the first one
// did.
func TestPagesLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	s := openTest(t, path)
	a, b, c := testRow("act_a", t0), testRow("act_b", t0.Add(time.Second)), testRow("act_c", t0.Add(2*time.Second))
	e := testRow("act_e", t0.Add(3*time.Second))
	a2 := a
	a2.Type, a2.Raw = "emailsOpened", json.RawMessage(`{"_id":"act_a","v":2}`)
	check := lifecycleCheck(t, a2, c, e)
	mustApply(t, s, mirror.Batch{Upserts: []mirror.Row{a, b, e}})
	mustApply(t, s, mirror.Batch{Upserts: []mirror.Row{c}})
	if n := tableCount(t, s, "pages"); n != 2 {
		t.Fatalf("%d pages, want 2", n)
	}
	// A replay writes no page; its time is kept.
	res := mustApply(t, s, mirror.Batch{Upserts: []mirror.Row{a, c}, At: t0.Add(time.Hour)})
	if len(res.Inserted) != 0 || tableCount(t, s, "pages") != 2 || tableCount(t, s, "touched") != 2 {
		t.Fatalf("replay: %+v, %d pages, %d touched", res, tableCount(t, s, "pages"), tableCount(t, s, "touched"))
	}
	// An update of a moves it to a new page; a's old version is dead.
	mustApply(t, s, mirror.Batch{Upserts: []mirror.Row{a2}, At: t0.Add(2 * time.Hour)})
	if p, d, tc := tableCount(t, s, "pages"), tableCount(t, s, "dead"), tableCount(t, s, "touched"); p != 3 || d != 1 || tc != 1 {
		t.Fatalf("after update: %d pages, %d dead, %d touched; want 3, 1, 1", p, d, tc)
	}
	// Deleting b leaves e alive in the first page.
	res = mustApply(t, s, mirror.Batch{Deletes: []string{"act_b", "act_b", "act_zz"}})
	if p, d := tableCount(t, s, "pages"), tableCount(t, s, "dead"); res.Deleted != 1 || p != 3 || d != 2 {
		t.Fatalf("after deleting b: %+v, %d pages, %d dead; want 1 deleted, 3, 2", res, p, d)
	}
	check(s, true)
	s.Close()
	s = openTest(t, path) // the dead rows of a live page stay dead
	check(s, true)
	// Deleting e leaves the first page with no live row: it goes, with its
	// marks.
	mustApply(t, s, mirror.Batch{Deletes: []string{"act_e"}})
	if p, d := tableCount(t, s, "pages"), tableCount(t, s, "dead"); p != 2 || d != 0 {
		t.Fatalf("after deleting e: %d pages, %d dead; want 2, 0", p, d)
	}
	// Upserted and deleted in one batch: counted as both, stored as none.
	res = mustApply(t, s, mirror.Batch{Upserts: []mirror.Row{testRow("act_d", t0)}, Deletes: []string{"act_d"}})
	if !slices.Equal(res.Inserted, []int{0}) || res.Deleted != 1 {
		t.Fatalf("upsert and delete: %+v", res)
	}
	check(s, false)
	s.Close()
	check(openTest(t, path), false)
}

// lifecycleCheck returns the check of the rows TestPagesLifecycle leaves:
// a2 and c, and e while it lives.
func lifecycleCheck(t *testing.T, a2, c, e mirror.Row) func(s *Store, withE bool) {
	return func(s *Store, withE bool) {
		t.Helper()
		ctx := t.Context()
		want := []mirror.Stored{
			{ID: "act_c", CreatedAt: c.CreatedAt, WrittenAt: t0.Add(time.Hour)},
			{ID: "act_a", CreatedAt: a2.CreatedAt, WrittenAt: t0.Add(2 * time.Hour)},
		}
		gone := []string{"act_b", "act_d"}
		if withE {
			want = append([]mirror.Stored{{ID: "act_e", CreatedAt: e.CreatedAt, WrittenAt: t0}}, want...)
		} else {
			gone = append(gone, "act_e")
		}
		if got, _ := s.Count(ctx, "t"); got != len(want) {
			t.Errorf("count %d, want %d", got, len(want))
		}
		got, ok, err := s.Get(ctx, "t", "act_a")
		if err != nil || !ok || !cmp.Equal(got, a2) {
			t.Errorf("act_a: %+v %v %v", got, ok, err)
		}
		for _, id := range gone {
			if _, ok, _ := s.Get(ctx, "t", id); ok {
				t.Errorf("%s is still there", id)
			}
		}
		ids, err := s.IDsInRange(ctx, "t", t0, t0.Add(time.Minute))
		if err != nil || !cmp.Equal(ids, want) {
			t.Errorf("IDsInRange: %+v %v\nwant %+v", ids, err, want)
		}
		st, _ := s.Stats(ctx, "t", mirror.StatsQuery{GroupBy: []mirror.Dim{mirror.DimType}})
		if st.Total != len(want) || len(st.Groups) != 2 {
			t.Errorf("stats: %+v", st)
		}
	}
}

// TestCorruptPage: a damaged page is an error, never a panic or a wrong
// row.
func TestCorruptPage(t *testing.T) {
	var e pageEncoder
	r := testRow("act_a", t0)
	meta, raw := e.encode([]*mirror.Row{&r})
	meta, raw = slices.Clone(meta), slices.Clone(raw)
	var mb, rb []byte
	if rows, err := decodePage(1, meta, raw, nil, &mb, &rb); err != nil || len(rows) != 1 || string(rows[0].id) != "act_a" {
		t.Fatalf("decode: %v %v", rows, err)
	}
	for name, tc := range map[string]struct {
		n         int
		meta, raw []byte
	}{
		"garbage meta":     {1, []byte("not s2"), raw},
		"garbage raw":      {1, meta, []byte{0xff, 0xff}},
		"more rows":        {2, meta, raw},
		"fewer rows":       {0, meta, raw},
		"truncated meta":   {1, mustS2(t, mustUnS2(t, meta)[:5]), raw},
		"raw of other len": {1, meta, mustS2(t, []byte(`{}`))},
	} {
		if _, err := decodePage(tc.n, tc.meta, tc.raw, nil, &mb, &rb); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func mustS2(t *testing.T, b []byte) []byte { return s2.Encode(nil, b) }

func mustUnS2(t *testing.T, b []byte) []byte {
	out, err := s2.Decode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMigrateFromRows opens a database in the version 2 schema (a row per
// activity) and finds its rows, write times and state in pages.
func TestMigrateFromRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v2.db")
	// A version 2 database: its migrations' SQL, then rows.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{qCreateMigrations, mustRead(t, "migrations/0001_init.sql"), mustRead(t, "migrations/0002_webhook_secrets.sql"),
		"INSERT INTO schema_migrations VALUES (1, 0), (2, 0)"} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	rows := []mirror.Row{testRow("act_1", t0), testRow("act_2", t0.Add(time.Second)), testRow("act_3", t0.Add(2*time.Second))}
	step := 2
	rows[1].SequenceStep, rows[1].IsFirst, rows[1].Raw = &step, true, nil
	for i, r := range rows {
		tenant := int64(1)
		if i == 2 {
			tenant = 2
		}
		var st any
		if r.SequenceStep != nil {
			st = *r.SequenceStep
		}
		raw := []byte(r.Raw)
		if raw == nil {
			raw = []byte{}
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO tenants (tid, name) VALUES (?, ?) ON CONFLICT DO NOTHING`, tenant, fmt.Sprintf("t%d", tenant)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO activities (tid, id, type, channel, campaign_id, lead_id, contact_id, user_id,
			created_at, is_first, sequence_step, written_at, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			tenant, r.ID, r.Type, r.Channel, r.CampaignID, r.LeadID, r.ContactID, r.UserID, r.CreatedAt.UnixMilli(), r.IsFirst, st,
			t0.Add(time.Duration(i)*time.Hour).UnixMilli(), raw); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s := openTest(t, path)
	if v, err := s.Version(ctx); v != 3 || err != nil {
		t.Fatalf("version %d, %v", v, err)
	}
	for i, r := range rows {
		tenant := "t1"
		if i == 2 {
			tenant = "t2"
		}
		got, ok, err := s.Get(ctx, tenant, r.ID)
		if err != nil || !ok || !cmp.Equal(got, r) {
			t.Errorf("%s: %+v %v %v", r.ID, got, ok, err)
		}
	}
	ids, _ := s.IDsInRange(ctx, "t1", t0, t0.Add(time.Hour))
	want := []mirror.Stored{
		{ID: "act_2", CreatedAt: t0.Add(time.Second), WrittenAt: t0.Add(time.Hour)},
		{ID: "act_1", CreatedAt: t0, WrittenAt: t0},
	}
	if !cmp.Equal(ids, want) {
		t.Errorf("IDsInRange: %+v", ids)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'activities'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the activities table is still there (%d, %v)", n, err)
	}
}

func mustRead(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzDecodePage: a page's blocks, however damaged, decode to rows or to
// an error, never a panic; and rows encoded then decoded come back whole.
func FuzzDecodePage(f *testing.F) {
	var e pageEncoder
	a, b := testRow("act_a", t0), testRow("act_b", t0.Add(time.Second))
	step := 3
	b.SequenceStep, b.IsFirst, b.Raw = &step, true, nil
	meta, raw := e.encode([]*mirror.Row{&a, &b})
	f.Add(2, slices.Clone(meta), slices.Clone(raw), "act_x", "emailsSent", `{"_id":"act_x"}`, int64(1), true)
	f.Add(1, []byte{0}, []byte{0}, "", "", "", int64(-1), false)
	f.Fuzz(func(t *testing.T, n int, meta, raw []byte, id, typ, body string, at int64, first bool) {
		var mb, rb []byte
		if n >= 0 && n <= pageRows {
			decodePage(n, meta, raw, nil, &mb, &rb) // must not panic
			decodePage(n, meta, nil, nil, &mb, nil)
		}
		r := mirror.Row{ID: id, Type: typ, Channel: typ, CampaignID: body, CreatedAt: time.UnixMilli(at).UTC(), IsFirst: first}
		if len(body) > 0 {
			r.Raw = json.RawMessage(body)
		}
		if first {
			r.SequenceStep = &n
		}
		var enc pageEncoder
		m, w := enc.encode([]*mirror.Row{&r, &a})
		rows, err := decodePage(2, m, w, nil, &mb, &rb)
		if err != nil {
			t.Fatalf("decode of an encoded page: %v", err)
		}
		if got := rows[0].row(); !cmp.Equal(got, r) || !rows[0].same(&r) {
			t.Fatalf("round trip: %+v, want %+v", got, r)
		}
		if got := rows[1].row(); !cmp.Equal(got, a) {
			t.Fatalf("second row: %+v, want %+v", got, a)
		}
	})
}
