package lemlist

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestLeadsGet(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /api/leads", func(w http.ResponseWriter, r *http.Request) {
		if got := r.URL.RawQuery; got != "id=lea_1" {
			t.Errorf("query = %q", got)
		}
		fmt.Fprint(w, `{"_id":"lea_1","email":"a@b.c","isPaused":true,"customVar":"kept"}`)
	})
	l, _, err := c.Leads.Get(t.Context(), "lea_1")
	if err != nil {
		t.Fatal(err)
	}
	if l.ID != "lea_1" || l.Email != "a@b.c" || l.IsPaused == nil || !*l.IsPaused || !strings.Contains(string(l.Raw), `"customVar":"kept"`) {
		t.Errorf("got %+v", l)
	}
}

func TestCampaignsGetEscapesID(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if got := r.URL.EscapedPath(); got != "/api/campaigns/cam%2F1%3Fx" {
			t.Errorf("path = %q", got)
		}
		fmt.Fprint(w, `{"_id":"cam_1","name":"Unicorn","status":"running"}`)
	})
	camp, _, err := c.Campaigns.Get(t.Context(), "cam/1?x")
	if err != nil || camp.Name != "Unicorn" {
		t.Errorf("got %+v, %v", camp, err)
	}
}

func TestInvalidIDsSendNothing(t *testing.T) {
	t.Parallel()
	c, _, hits := setup(t)
	if _, _, err := c.Leads.Get(t.Context(), ""); err == nil {
		t.Error("Leads.Get(\"\") succeeded")
	}
	for _, id := range []string{"", ".", ".."} {
		if _, _, err := c.Campaigns.Get(t.Context(), id); err == nil {
			t.Errorf("Campaigns.Get(%q) succeeded", id)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests sent", hits.Load())
	}
}

func TestContactsGetManyChunks(t *testing.T) {
	t.Parallel()
	c, mux, hits := setup(t)
	var sizes []int
	mux.HandleFunc("GET /api/contacts", func(w http.ResponseWriter, r *http.Request) {
		ids := strings.Split(r.URL.Query().Get("idsOrEmails"), ",")
		sizes = append(sizes, len(ids))
		var out []map[string]any
		for _, id := range ids {
			out = append(out, map[string]any{"_id": id, "campaigns": []map[string]string{{"campaignId": "cam_1", "leadId": "lea_" + id}}})
		}
		json.NewEncoder(w).Encode(out)
	})
	if got, resp, err := c.Contacts.GetMany(t.Context(), nil); got != nil || resp != nil || err != nil || hits.Load() != 0 {
		t.Fatalf("empty input: got %v, %v, %v after %d requests; want nothing and no request", got, resp, err, hits.Load())
	}
	var ids []string
	for i := range 250 {
		ids = append(ids, fmt.Sprintf("ctc_%d", i))
	}
	got, _, err := c.Contacts.GetMany(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[100 100 50]" || len(got) != 250 {
		t.Fatalf("chunk sizes %v, %d contacts; want [100 100 50], 250", sizes, len(got))
	}
	for i, ct := range got {
		if ct.ID != ids[i] || ct.Campaigns[0].LeadID != "lea_"+ids[i] || len(ct.Raw) == 0 {
			t.Fatalf("contact %d = %+v", i, ct)
		}
	}
}

func TestContactsGetManyStopsAtFirstError(t *testing.T) {
	t.Parallel()
	c, mux, hits := setup(t)
	mux.HandleFunc("/api/contacts", reply(400, "Bad team"))
	got, resp, err := c.Contacts.GetMany(t.Context(), make([]string, 150))
	if got != nil || resp == nil || StatusCode(err) != 400 || hits.Load() != 1 {
		t.Errorf("got %v, %v, %v after %d requests", got, resp, err, hits.Load())
	}
}
