//go:build unix

package columns

import (
	"sync"
	"syscall"
	"unsafe"
)

// offHeap allocates a table's blocks outside the Go heap, in anonymous
// mappings, and unmaps them once the table is unreachable. The garbage
// collector lets the heap grow to twice what is live (GOGC=100) before it
// collects; blocks on the heap would count in what is live, so a million
// rows' 32 MB would cost 64 MB of peak RSS. Blocks hold no pointers, so
// the collector need not see them.
//
// Every access to a block happens in a Table method that holds the
// table's lock and releases it in a deferred call, which keeps the table,
// and so its mappings, alive until the access ends.
type offHeap struct {
	mu      sync.Mutex
	regions [][]byte
}

// block returns a zeroed block.
func (o *offHeap) block() *block {
	mem, err := syscall.Mmap(-1, 0, int(unsafe.Sizeof(block{})), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return new(block) // out of mappings: the heap will do
	}
	o.mu.Lock()
	o.regions = append(o.regions, mem)
	o.mu.Unlock()
	return (*block)(unsafe.Pointer(&mem[0]))
}

// free unmaps the blocks; the table that used them is unreachable.
func (o *offHeap) free() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range o.regions {
		syscall.Munmap(m)
	}
	o.regions = nil
}
