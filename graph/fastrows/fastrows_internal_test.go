package fastrows

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/graphql"

	"github.com/lemlist-graphql/server/graph/model"
)

// FuzzAppendQuoted checks appendQuoted against gqlgen's MarshalString, byte
// for byte, on any string, invalid UTF-8 included.
func FuzzAppendQuoted(f *testing.F) {
	for _, s := range []string{"", "plain", `a"b\c`, "tab\tcr\rnl\n", "\x00\x01\x1f\x7f", "é😀", "\xff\xfe\"", `\u0041`, "</script>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		graphql.MarshalString(s).MarshalGQL(&want)
		if got := appendQuoted([]byte("x"), s); string(got) != "x"+want.String() {
			t.Fatalf("appendQuoted(%q) = %s, gqlgen writes %s", s, got[1:], want.Bytes())
		}
	})
}

// The resolver fields the extension leaves to gqlgen come from ResolverRoot.
func TestResolverFields(t *testing.T) {
	got := resolverFields()
	for _, f := range []string{"lead.activities", "lead.campaign", "lead.contact", "campaign.activities", "contactcampaign.campaign", "query.activities"} {
		if !got[f] {
			t.Errorf("%s is not among the resolver fields %v", f, got)
		}
	}
	if got["lead.email"] || got["emailactivity.lead"] {
		t.Errorf("plain fields among the resolver fields: %v", got)
	}
}

// The generated accessors are found and used for the models' members.
func TestTypedAccessors(t *testing.T) {
	x := New()
	for _, tc := range []struct {
		t     reflect.Type
		field string
	}{
		{reflect.TypeFor[*model.EmailActivity](), "id"},
		{reflect.TypeFor[*model.EmailActivity](), "subject"},
		{reflect.TypeFor[*model.EmailActivity](), "lead"},
		{reflect.TypeFor[*model.ActivityEdge](), "cursor"},
		{reflect.TypeFor[*model.Lead](), "email"},
	} {
		if a := x.accessor(tc.t, tc.field); a == nil || a.typed == nil {
			t.Errorf("%v.%s: no typed accessor (%+v)", tc.t, tc.field, a)
		}
	}
}
