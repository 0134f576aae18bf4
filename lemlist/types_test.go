package lemlist

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestActivityRoundTrip(t *testing.T) {
	t.Parallel()
	seed := readSeed(t)
	var acts []*Activity
	if err := json.Unmarshal(seed, &acts); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(acts)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	json.Unmarshal(seed, &want)
	json.Unmarshal(out, &got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the JSON:\n got %s\nwant %s", out, seed)
	}
}

// TestActivityFieldsCoverSeed checks that every top-level field of the seed
// activities has a typed field: encoding without Raw keeps them all.
func TestActivityFieldsCoverSeed(t *testing.T) {
	t.Parallel()
	seed := readSeed(t)
	var acts []*Activity
	var want []map[string]any
	if err := json.Unmarshal(seed, &acts); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(seed, &want)
	for i, a := range acts {
		a.Raw = nil
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		json.Unmarshal(b, &got)
		for k := range want[i] {
			if _, ok := got[k]; !ok {
				t.Errorf("activity %d: field %q has no typed counterpart", i, k)
			}
		}
	}
}

func TestRawKept(t *testing.T) {
	t.Parallel()
	in := []byte(`{"_id":"x_1","name":"N","unknownField":{"a":[1,2]}}`)
	for _, v := range []interface {
		json.Marshaler
		json.Unmarshaler
	}{&Activity{}, &Lead{}, &Contact{}, &Campaign{}, &Team{}} {
		if err := v.UnmarshalJSON(in); err != nil {
			t.Fatal(err)
		}
		if out, _ := json.Marshal(v); !bytes.Equal(out, in) {
			t.Errorf("%T: encoded %s, want %s", v, out, in)
		}
		// Decoding again resets fields absent from the new object.
		if err := v.UnmarshalJSON([]byte(`{"_id":"x_2"}`)); err != nil {
			t.Fatal(err)
		}
		if id := reflect.ValueOf(v).Elem().FieldByName("ID").String(); id != "x_2" {
			t.Errorf("%T: ID %q after second decode", v, id)
		}
		if f := reflect.ValueOf(v).Elem().FieldByName("Name"); f.IsValid() && f.String() != "" {
			t.Errorf("%T: Name %q kept from the first decode", v, f.String())
		}
	}
	if b, _ := json.Marshal(Lead{ID: "lea_1", Email: "a@b.c"}); string(b) != `{"_id":"lea_1","email":"a@b.c"}` {
		t.Errorf("typed encoding without Raw: %s", b)
	}
}

// activitiesPage returns a realistic page of 100 activities cycling through
// the seed's examples.
func activitiesPage(b *testing.B) []byte {
	var seed []json.RawMessage
	if err := json.Unmarshal(readSeed(b), &seed); err != nil {
		b.Fatal(err)
	}
	page := make([]json.RawMessage, MaxPageSize)
	for i := range page {
		page[i] = seed[i%len(seed)]
	}
	body, err := json.Marshal(page)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

func BenchmarkDecodeActivitiesPage(b *testing.B) {
	body := activitiesPage(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var page []*Activity
		if err := decodeBody(body, &page); err != nil || len(page) != MaxPageSize {
			b.Fatal(len(page), err)
		}
	}
}

func BenchmarkDecodeSummariesPage(b *testing.B) {
	body := activitiesPage(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var page []*Activity
		if err := decodeBody(body, summaryPage{&page}); err != nil || len(page) != MaxPageSize || !page[0].Summary {
			b.Fatal(len(page), err)
		}
	}
}
