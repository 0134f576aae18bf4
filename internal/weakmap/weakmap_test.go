package weakmap

import (
	"runtime"
	"testing"
	"time"
)

// A value in use is handed out again; one nobody holds is forgotten, and
// its key then gets a new one.
func TestMap(t *testing.T) {
	var m Map[int, [64]byte]
	builds := 0
	build := func() *[64]byte { builds++; return new([64]byte) }
	kept := m.Get(1, build)
	if m.Get(1, build) != kept || builds != 1 {
		t.Fatalf("a value in use was built again (%d builds)", builds)
	}
	for k := 2; k < 100; k++ {
		m.Get(k, build)
	}
	for deadline := time.Now().Add(5 * time.Second); m.Len() > 1 && time.Now().Before(deadline); {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := m.Len(); n != 1 {
		t.Errorf("%d entries after the others were collected, want 1", n)
	}
	if m.Get(1, build) != kept {
		t.Error("the value in use was replaced")
	}
	runtime.KeepAlive(kept)
}
