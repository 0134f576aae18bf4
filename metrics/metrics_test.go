package metrics

import (
	"fmt"
	"testing"
)

// Issue 13, item 10: junk operation names from one tenant cannot push the
// real operations of other tenants into "other".
func TestOperationLabelsBoundedPerTenant(t *testing.T) {
	m := New()
	for i := range 10 * MaxOperations {
		m.OperationFor("junk", fmt.Sprintf("Junk%d", i))
	}
	if got := m.OperationFor("team-b", "Dashboard"); got != "Dashboard" {
		t.Fatalf("another tenant's operation is labelled %q, want Dashboard", got)
	}
	if got := m.OperationFor("junk", fmt.Sprintf("Junk%d", DefaultMaxOperationsPerTenant)); got != Other {
		t.Fatalf("the junk tenant's name beyond its cap is labelled %q, want %q", got, Other)
	}
	if got := m.OperationFor("junk", "Junk0"); got != "Junk0" {
		t.Fatalf("the junk tenant's first name is labelled %q", got)
	}
	// A name another tenant got labelled is every tenant's, without
	// counting against them.
	if got := m.OperationFor("junk", "Dashboard"); got != "Dashboard" {
		t.Fatalf("a known name is labelled %q for another tenant", got)
	}
	// Invalid and empty names never take a slot.
	if m.OperationFor("c", "") != Anonymous || m.OperationFor("c", "not a name") != Other {
		t.Fatal("anonymous or invalid names")
	}
	// The global bound still holds: tenants at their cap fill it, and
	// later names are Other.
	for i := 0; len(m.ops) < MaxOperations; i++ {
		m.OperationFor(fmt.Sprintf("t%d", i/DefaultMaxOperationsPerTenant), fmt.Sprintf("Op%d", i))
	}
	if got := m.OperationFor("late", "Late"); got != Other || len(m.ops) != MaxOperations {
		t.Fatalf("beyond %d names: %q, %d labelled", MaxOperations, got, len(m.ops))
	}
	// Operation trusts its one tenant with the whole bound.
	m = New()
	for i := range MaxOperations {
		if got := m.Operation(fmt.Sprintf("Op%d", i)); got != fmt.Sprintf("Op%d", i) {
			t.Fatalf("Operation(Op%d) = %q", i, got)
		}
	}
	if got := m.Operation("Late"); got != Other {
		t.Fatalf("Operation beyond the bound = %q", got)
	}
}
