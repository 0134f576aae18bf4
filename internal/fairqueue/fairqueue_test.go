package fairqueue

import (
	"slices"
	"testing"
)

// drain pops every value.
func drain(q *Queue[string, string]) []string {
	var out []string
	for v, ok := q.Pop(); ok; v, ok = q.Pop() {
		out = append(out, v)
	}
	return out
}

func TestRoundRobinAcrossKeysFIFOWithin(t *testing.T) {
	t.Parallel()
	var q Queue[string, string]
	for _, v := range []string{"a1", "a2", "a3", "a4"} {
		q.Push("a", v)
	}
	q.Push("b", "b1")
	q.Push("b", "b2")
	q.Push("c", "c1")
	if q.Len() != 7 || q.LenOf("a") != 4 || q.LenOf("b") != 2 || q.LenOf("x") != 0 {
		t.Fatalf("Len %d, LenOf a %d b %d", q.Len(), q.LenOf("a"), q.LenOf("b"))
	}
	want := []string{"a1", "b1", "c1", "a2", "b2", "a3", "a4"}
	if got := drain(&q); !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if q.Len() != 0 {
		t.Errorf("Len %d after draining", q.Len())
	}
	if _, ok := q.Pop(); ok {
		t.Error("Pop on an empty queue")
	}
}

// A key arriving behind a backlog waits for one value of the key whose
// turn it is, then turns alternate.
func TestLateKeyServedWithinATurn(t *testing.T) {
	t.Parallel()
	var q Queue[string, string]
	for _, v := range []string{"a1", "a2", "a3", "a4"} {
		q.Push("a", v)
	}
	q.Pop()           // a1: a alone, its turn again
	q.Push("b", "b1") // b joins behind a
	q.Push("b", "b2")
	if got, want := []string{pop(&q), pop(&q), pop(&q)}, []string{"a2", "b1", "a3"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	// A key whose line empties rejoins at the end, behind the others.
	pop(&q) // b2: b leaves
	q.Push("c", "c1")
	q.Push("b", "b3")
	if got, want := drain(&q), []string{"a4", "c1", "b3"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func pop(q *Queue[string, string]) string {
	v, _ := q.Pop()
	return v
}

func TestRemoveKeepsTurns(t *testing.T) {
	t.Parallel()
	var q Queue[string, string]
	q.Push("a", "a1")
	q.Push("b", "b1")
	q.Push("c", "c1")
	q.Push("a", "a2")
	q.Push("c", "c2")
	if v, _ := q.Pop(); v != "a1" { // b's turn next
		t.Fatalf("first pop %s", v)
	}
	if !q.Remove("a", "a2") || q.Remove("a", "a2") || q.Remove("z", "a2") {
		t.Fatal("Remove: want true once, then false")
	}
	// a left the rotation (before b's turn): b is still next.
	if got, want := drain(&q), []string{"b1", "c1", "c2"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}

	q.Push("a", "a1")
	q.Push("b", "b1")
	q.Push("c", "c1")
	q.Push("c", "c2")
	q.Pop() // a1: a leaves; b is next
	q.Pop() // b1: b leaves; c is next
	if !q.Remove("c", "c1") {
		t.Fatal("Remove c1")
	}
	if got, want := drain(&q), []string{"c2"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if q.Len() != 0 || q.LenOf("c") != 0 {
		t.Errorf("Len %d, LenOf c %d", q.Len(), q.LenOf("c"))
	}
}
