package gateway

import (
	"strings"
	"testing"
	"time"
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
