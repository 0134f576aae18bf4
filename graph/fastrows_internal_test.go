package graph

import (
	"bytes"
	"testing"

	"github.com/99designs/gqlgen/graphql"
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

// The resolver fields FastRows leaves to gqlgen come from ResolverRoot.
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
