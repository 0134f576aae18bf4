//go:build !race

package storetest

// Race is true when the race detector is on: it slows SQLite tenfold, so
// tests shrink their data.
const Race = false
