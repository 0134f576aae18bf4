package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
	"github.com/lemlist-graphql/server/metrics"
)

// persisted posts query as an automatic persisted query (its text and
// hash, or its hash alone when hashOnly) with key, and returns the status
// and the body.
func persisted(t *testing.T, h http.Handler, key, query string, hashOnly bool) (int, string) {
	t.Helper()
	sum := sha256.Sum256([]byte(query))
	req := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}}
	if !hashOnly {
		req["query"] = query
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+key)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// gauge reads a gauge from m's /metrics, -1 when it is absent.
func gauge(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(w.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return -1
}

// The APQ and parsed-query caches are bounded by bytes, whatever the
// documents clients send: persisted queries of 300 KB, each under its own
// unknown pass-through key (the 150 of 900 KB, scaled to the
// test's bounds), then many under a real one. Only documents that parse
// and validate are persisted. With the defaults, both caches together
// stay under 32 MB (issue 13, item 3).
func TestDocumentCachesBoundedByBytes(t *testing.T) {
	t.Parallel()
	if DefaultAPQMaxBytes+DefaultQueryCacheMaxBytes >= 32e6 {
		t.Fatalf("the default bounds add up to %d bytes", DefaultAPQMaxBytes+DefaultQueryCacheMaxBytes)
	}
	const apqMax, docsMax = 1 << 20, 2 << 20
	m := metrics.New()
	g, err := New(Options{Auth: PassthroughAuth(fakePool(t)), Metrics: m, RequestTimeout: time.Minute, MaxBodyBytes: 1 << 20,
		ParserTokenLimit: 15000, APQMaxBytes: apqMax, QueryCacheMaxBytes: docsMax})
	if err != nil {
		t.Fatal(err)
	}
	h := g.Handler()
	bounded := func(when string) (apq, docs float64) {
		t.Helper()
		apq, docs = gauge(t, m, "graphql_apq_cache_bytes"), gauge(t, m, "graphql_query_cache_bytes")
		if apq < 0 || docs < 0 || apq > apqMax || docs > docsMax {
			t.Fatalf("%s: APQ %.0f bytes, parsed queries %.0f: want at most %d and %d", when, apq, docs, apqMax, docsMax)
		}
		return apq, docs
	}
	doc := func(name string, i, size int) string {
		return fmt.Sprintf("query %s%d { __typename }\n# %s\n", name, i, strings.Repeat("x", size))
	}
	for i := range 12 {
		persisted(t, h, fmt.Sprintf("unknown-key-%03d-5e1c9a", i), doc("Q", i, 300<<10), false)
	}
	bounded("after 12 documents of 300 KB under unknown keys")
	const key = lemlisttest.DefaultAPIKey
	for i := range 40 {
		if code, body := persisted(t, h, key, doc("R", i, 60<<10), false); code != http.StatusOK || !strings.Contains(body, `"__typename":"Query"`) {
			t.Fatalf("document %d: %d %.200s", i, code, body)
		}
	}
	for i := range 100 {
		persisted(t, h, key, doc("S", i, 2<<10), false)
	}
	apq, docs := bounded("after 140 documents under a real key")
	if apq < apqMax/2 || docs < docsMax/2 {
		t.Errorf("APQ holds %.0f bytes, parsed queries %.0f: the documents were not kept", apq, docs)
	}
	// The newest is there: its hash alone runs it.
	if code, body := persisted(t, h, key, doc("S", 99, 2<<10), true); code != http.StatusOK || !strings.Contains(body, `"__typename":"Query"`) {
		t.Errorf("by hash: %d %.200s", code, body)
	}

	// A document that does not validate is not persisted: its hash alone
	// is unknown afterwards.
	const invalid = "{ activities { nodes { nope } } }"
	if _, body := persisted(t, h, key, invalid, false); !strings.Contains(body, "GRAPHQL_VALIDATION_FAILED") {
		t.Fatalf("invalid document: %.300s", body)
	}
	if _, body := persisted(t, h, key, invalid, true); !strings.Contains(body, "PERSISTED_QUERY_NOT_FOUND") {
		t.Errorf("the invalid document was persisted: %.300s", body)
	}
}

// sizedCache evicts the least recently used entries beyond its bound and
// refuses an entry above its share.
func TestSizedCache(t *testing.T) {
	t.Parallel()
	c := newSizedCache(1600, func(k, v string) int64 { return int64(len(v)) })
	for i := range 20 {
		c.Add(t.Context(), strconv.Itoa(i), strings.Repeat("x", 100))
	}
	if n, b := c.size(); n != 16 || b != 1600 {
		t.Errorf("%d entries, %d bytes; want 16 and 1600", n, b)
	}
	if _, ok := c.Get(t.Context(), "3"); ok {
		t.Error("the oldest entries were kept")
	}
	c.Add(t.Context(), "big", strings.Repeat("x", 101)) // over 1600/16
	if _, ok := c.Get(t.Context(), "big"); ok {
		t.Error("an entry above its share was kept")
	}
	c.Add(t.Context(), "19", "y") // replaces
	if n, b := c.size(); n != 16 || b != 1501 {
		t.Errorf("after a replacement: %d entries, %d bytes; want 16 and 1501", n, b)
	}
}
