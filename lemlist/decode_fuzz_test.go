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

// FuzzDecodeSummaries checks decodeSummaries against encoding/json's full
// decode: a summary holds the same values in the fields it names, the same
// Raw, and completes to the full decode (or fails to, where the full decode
// does).
func FuzzDecodeSummaries(f *testing.F) {
	f.Add(readSeed(f))
	for _, s := range []string{
		`[]`, `[null]`, `[{}]`, `[{"_id":"a"} , {"_id":"b"}]`, "[{\"_id\":\"\xff\"}]",
		`[{"lead":{"_id":"l","state":"s"},"lead":{"source":"x"}}]`, `[{"lead":{"_id":"l","contactId":"c","variables":{"a":1}}}]`,
		`[{"metaData":{"createdBy":"usr_1","taskId":"t"}}]`, `[{"bot":"true","_id":"a"}]`, `[{"sequenceStep":1e2,"isFirst":false}]`,
		`[{"createdAt":"2026-10-01T00:00:00.000Z","sendUserId":"u"}]`, `[{"_id":1}]`, `[{"_id":"a"}]x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeSummaries(body)
		if err != nil {
			return
		}
		var want []*Activity
		if err := json.Unmarshal(body, &want); err != nil {
			for _, a := range got {
				if _, err := a.Complete(); err == nil {
					var one Activity
					if json.Unmarshal(a.Raw, &one) != nil {
						t.Fatalf("Complete took %q, which encoding/json refuses", a.Raw)
					}
				}
			}
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%d rows, encoding/json %d: %q", len(got), len(want), body)
		}
		for i, w := range want {
			g := got[i]
			if !g.Summary || w.Summary {
				t.Fatalf("row %d: summary %v, full decode's %v", i, g.Summary, w.Summary)
			}
			sum := func(a *Activity) []any {
				var lead, contact, creator string
				if a.Lead != nil {
					lead, contact = a.Lead.ID, a.Lead.ContactID
				}
				if a.MetaData != nil {
					creator = a.MetaData.CreatedBy
				}
				return []any{a.ID, a.Type, a.CreatedAt, a.CampaignID, a.LeadID, a.ContactID, a.UserID, a.CreatedBy,
					a.SendUserID, a.IsFirst, a.SequenceStep, a.Lead == nil, lead, contact, a.MetaData == nil, creator, string(a.Raw)}
			}
			if !reflect.DeepEqual(sum(g), sum(w)) {
				t.Fatalf("row %d's summary differs for %q:\n summary %v\n    full %v", i, body, sum(g), sum(w))
			}
			full, err := g.Complete()
			if err != nil || !reflect.DeepEqual(full, w) {
				t.Fatalf("row %d completes to %+v (%v), want %+v", i, full, err, w)
			}
		}
	})
}
