package lemlisttest_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/lemlist-graphql/server/lemlist"
	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// A revoked key gets lemlist's 401 from then on; other tenants' keys are
// unaffected.
func TestRevoke(t *testing.T) {
	t.Parallel()
	s := twoTenants(t)
	a, b := s.Tenant(lemlisttest.DefaultTenant).Client(), s.Tenant("b").Client()
	if _, _, err := a.Team.Get(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.Tenant(lemlisttest.DefaultTenant).Revoke()
	_, _, err := a.Team.Get(t.Context())
	if e, ok := errors.AsType[*lemlist.ErrorResponse](err); !ok || e.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a revoked key: %v, want a 401", err)
	}
	if _, _, err := b.Team.Get(t.Context()); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
	if r := s.Requests(); r[len(r)-2].Tenant != "" || r[len(r)-2].Status != http.StatusUnauthorized {
		t.Errorf("the refused request was logged as %+v", r[len(r)-2])
	}
}
