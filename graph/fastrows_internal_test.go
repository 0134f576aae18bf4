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
