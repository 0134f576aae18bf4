package lemlist

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeActivities checks decodeActivities, the go-json path, against
// json.Unmarshal of []*Activity: whenever the fast path takes a body, the
// standard decoder must take it too and give the same rows, Raw included.
// When the fast path refuses a body, decodeBody falls back to json.Unmarshal,
// so a refusal is always safe.
func FuzzDecodeActivities(f *testing.F) {
	f.Add(readSeed(f))
	for _, s := range []string{
		`[]`, ` [ ] `, `[null]`, `[{}]`, `[{"_id":"a"} , {"_id":"b"}]`,
		`[{"_id":"a\"]}","type":"x\\"}]`,
		`[{"_id":"\\\"\\","type":"\\\\"},{"_id":"]\\\\\"["}]`,
		`[{"_id":"\u00e9\ud83d\ude00","type":"\ud800"}]`,
		"[{\"_id\":\"\xff\"}]",
		`[{"_id":"a","_ID":"b","TYPE":"t"}]`,
		`[{"lead":{"_id":"l","state":"s"},"lead":{"source":"x"}}]`,
		`[{"sequenceStep":1.0}]`, `[{"sequenceStep":1e2}]`, `[{"sequenceStep":-0}]`,
		`[{"sequenceStep":99999999999999999999}]`, `[{"bot":"true"}]`, `[{"bot":null,"isFirst":true}]`,
		`[{"createdAt":"2026-10-01T00:00:00.000Z","relatedSentAt":null}]`,
		`[{"createdAt":"2026-10-01T00:00:00+02:00"}]`, `[{"createdAt":"2026-10-01"}]`,
		`[{"lead":{"variables":{"a":[1,{"b":null}],"n":1.5e300}}}]`,
		`[{"metaData":{"taskId":"t"},"extra":[{"x":"]"}]}]`,
		`[{"_id":1}]`, `[{"_id":"a"}]x`, `[{"_id":"a"},]`, `[{"_id":"a"}`, `{"_id":"a"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeActivities(body)
		if err != nil {
			return
		}
		var want []*Activity
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("fast path took a body encoding/json refuses (%v): %q", err, body)
		}
		if len(got) != len(want) {
			t.Fatalf("%d rows, encoding/json %d: %q", len(got), len(want), body)
		}
		for i := range want {
			if want[i] == nil {
				t.Fatalf("fast path took a null element: %q", body)
			}
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("row %d differs for %q:\n fast %+v\n  std %+v", i, body, *got[i], *want[i])
			}
		}
	})
}
