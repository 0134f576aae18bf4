package model

import "testing"

func TestTypesOfMatchChannelOf(t *testing.T) {
	seen := map[string]ActivityChannel{}
	for _, ch := range AllActivityChannel {
		types := TypesOf(ch)
		if ch == ActivityChannelOther {
			if types != nil {
				t.Errorf("OTHER has types %v", types)
			}
			continue
		}
		if len(types) == 0 {
			t.Errorf("%s has no types", ch)
		}
		for _, typ := range types {
			if got := ChannelOf(typ); got != ch {
				t.Errorf("%s is listed for %s but ChannelOf says %s", typ, ch, got)
			}
			if prev, ok := seen[typ]; ok {
				t.Errorf("%s is listed for %s and %s", typ, prev, ch)
			}
			seen[typ] = ch
		}
	}
	// A fresh slice each time.
	a := TypesOf(ActivityChannelEmail)
	a[0] = "x"
	if TypesOf(ActivityChannelEmail)[0] == "x" {
		t.Error("TypesOf shares its slice")
	}
}
