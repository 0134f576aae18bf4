package columns

// SetMaxDense sets the largest dense key space and returns a restore func.
func SetMaxDense(n uint64) func() {
	old := maxDense
	maxDense = n
	return func() { maxDense = old }
}
