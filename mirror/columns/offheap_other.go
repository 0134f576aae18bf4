//go:build !unix

package columns

// offHeap allocates blocks on the Go heap where anonymous mappings are not
// available (see offheap_unix.go).
type offHeap struct{}

func (o *offHeap) block() *block { return new(block) }

func (o *offHeap) free() {}
