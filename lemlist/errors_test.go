package lemlist

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 10, 1, 20, 57, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"0.651": 651 * time.Millisecond,
		" 2 ":   2 * time.Second,
		"":      0,
		"soon":  0,
		"-1":    0,
		"NaN":   0,
		"+Inf":  0,
		"1e12":  time.Hour,
		now.Add(3 * time.Second).Format(http.TimeFormat):  3 * time.Second,
		now.Add(-3 * time.Second).Format(http.TimeFormat): 0,
	} {
		if got := parseRetryAfter(h, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", h, got, want)
		}
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ body, code, msg string }{
		{"Lead not found", "", "Lead not found"},
		{"  Bad\tteam\r\n", "", "Bad team"},
		{`"route is available starting emailPro plan"`, "", "route is available starting emailPro plan"},
		{`{"success":false,"error":{"code":"CONTACT_DELETE_BLOCKED","message":"In a campaign"}}`, "CONTACT_DELETE_BLOCKED", "In a campaign"},
		{`{"message":"Campaign not found"}`, "", "Campaign not found"},
		{`{"error":"Endpoint not available"}`, "", "Endpoint not available"},
		{`{"unexpected":1}`, "", `{"unexpected":1}`},
		{"<!DOCTYPE html><html></html>", "", ""},
		{"", "", ""},
		{"bell\a and \x00nul", "", "bell and nul"},
		{strings.Repeat("é", 400), "", strings.Repeat("é", 150) + "…"},
	} {
		code, msg := errorText([]byte(tt.body))
		if code != tt.code || msg != tt.msg {
			t.Errorf("errorText(%q) = %q, %q; want %q, %q", tt.body, code, msg, tt.code, tt.msg)
		}
	}
}
