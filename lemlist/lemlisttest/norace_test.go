//go:build !race

package lemlisttest_test

// raceEnabled scales the heaviest tests down under the race detector, where
// JSON decoding is an order of magnitude slower.
const raceEnabled = false
