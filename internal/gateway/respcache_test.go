package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// The cache stays within its byte budget, evicting the oldest answers.
func TestResponseCacheBounded(t *testing.T) {
	t.Parallel()
	c := newResponseCache(time.Minute, 1000)
	for i := range 50 {
		var k [32]byte
		k[0] = byte(i)
		c.put(k, []byte(strings.Repeat("x", 100)))
	}
	if n, b := c.size(); b > 1000 || n != 10 {
		t.Errorf("%d entries, %d bytes; want 10 and <= 1000", n, b)
	}
	var k [32]byte
	k[0] = 49
	c.put(k, []byte(strings.Repeat("y", 50))) // replaces an entry
	if _, b := c.size(); b != 950 {
		t.Errorf("%d bytes after a replacement, want 950", b)
	}
	c.put([32]byte{1, 2}, []byte(strings.Repeat("z", 1001))) // over the budget: not kept
	if _, ok := c.get([32]byte{1, 2}); ok {
		t.Error("an answer larger than the budget was kept")
	}
	if newResponseCache(0, 1000) != nil {
		t.Error("TTL 0 should disable the cache")
	}
}

// An operation selecting mirrorStatus anywhere is never cached; the check
// needs no schema, so the documents are parsed without one.
func TestResponseKeySkipsMirrorStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query     string
		cacheable bool
	}{
		{`{ activities(first: 1) { edges { cursor } } }`, true},
		{`{ mirrorStatus { state } }`, false},
		{`query Q { s: mirrorStatus { state } activities { totalCount } }`, false},
		{`{ viewer { ... on Team { mirrorStatus { state } } } }`, false},
		{`{ ...F } fragment F on Query { ...G } fragment G on Query { mirrorStatus { state } }`, false},
		{`{ ...F } fragment F on Query { ...F activities { totalCount } }`, true},
		{`{ mirrorStatusHistory }`, true},
		{`subscription { activityAdded { id } }`, false},
	} {
		doc, err := parser.ParseQuery(&ast.Source{Input: tc.query})
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		oc := &graphql.OperationContext{RawQuery: tc.query, Doc: doc, Operation: doc.Operations[0]}
		if _, ok := responseKey("tenant", oc); ok != tc.cacheable {
			t.Errorf("%s: cacheable = %v, want %v", tc.query, ok, tc.cacheable)
		}
	}
}

// The cache keeps only whole answers: the initial payload of an
// incremental delivery (@defer, with hasNext), and its later payloads
// (label, path), are never kept, nor replace a kept answer (issue 13,
// item 12).
func TestResponseCacheKeepsOnlyCompleteAnswers(t *testing.T) {
	t.Parallel()
	c := newResponseCache(time.Minute, 1<<20)
	oc := &graphql.OperationContext{RawQuery: "{ x }", Operation: &ast.OperationDefinition{Operation: ast.Query}}
	yes, no := true, false
	stream := func(resps ...*graphql.Response) graphql.ResponseHandler {
		return func(context.Context) *graphql.Response {
			if len(resps) == 0 {
				return nil
			}
			r := resps[0]
			resps = resps[1:]
			return r
		}
	}
	run := func(h graphql.ResponseHandler) {
		for h(t.Context()) != nil {
		}
	}
	incremental := stream(
		&graphql.Response{Data: []byte(`{"a":{}}`), HasNext: &yes},
		&graphql.Response{Data: []byte(`{"b":1}`), Label: "more", Path: ast.Path{ast.PathName("a")}, HasNext: &no},
	)
	hit, keep := c.lookup("t", oc)
	if hit != nil || keep == nil {
		t.Fatal("a cacheable query without an answer yet")
	}
	run(keep(incremental))
	if n, _ := c.size(); n != 0 {
		t.Fatalf("an incremental delivery left %d answers", n)
	}

	_, keep = c.lookup("t", oc)
	run(keep(stream(&graphql.Response{Data: []byte(`{"a":{"b":1}}`)})))
	if n, _ := c.size(); n != 1 {
		t.Fatalf("a whole answer was not kept (%d entries)", n)
	}
	// A late incremental payload cannot reach the entry: a hit runs nothing.
	hit, keep = c.lookup("t", oc)
	if hit == nil || keep != nil {
		t.Fatal("no hit for the kept answer")
	}
	if got := hit(t.Context()); string(got.Data) != `{"a":{"b":1}}` || got.HasNext != nil {
		t.Errorf("hit %s", got.Data)
	}
}
