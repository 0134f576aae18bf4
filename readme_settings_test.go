package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The README's settings table and --help come from the same facts: every
// setting of the table in config.go has a row, with the same default when
// the row gives one as a single value, and the table has no other
// setting.
func TestREADMEListsEverySetting(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var help bytes.Buffer
	_ = run(t.Context(), []string{"--help"}, envFunc(nil), &help)
	helpRE := regexp.MustCompile(`(?m)^  --([a-z0-9-]+), ([A-Z0-9_]+) \(default (.*)\)$`)
	defaults := map[string]string{}
	for _, m := range helpRE.FindAllStringSubmatch(help.String(), -1) {
		defaults[m[2]] = strings.Trim(m[3], `"`)
	}
	if len(defaults) < 30 {
		t.Fatalf("read %d settings from --help", len(defaults))
	}
	rowRE := regexp.MustCompile("(?m)^\\| `([A-Z0-9_]+)` / `--([a-z0-9-]+)` \\| ([^|]*) \\|")
	rows := map[string]bool{}
	for _, m := range rowRE.FindAllStringSubmatch(string(readme), -1) {
		env, flag, def := m[1], m[2], strings.TrimSpace(m[3])
		rows[env] = true
		want, ok := defaults[env]
		if !ok {
			t.Errorf("README row %s is not a setting", env)
			continue
		}
		if envName(flag) != env {
			t.Errorf("README row %s names the flag --%s", env, flag)
		}
		if v, single := strings.CutPrefix(def, "`"); single && strings.Count(def, "`") == 2 && strings.HasSuffix(v, "`") {
			if v = strings.TrimSuffix(v, "`"); v != want {
				t.Errorf("README gives %s the default %q, --help %q", env, v, want)
			}
		}
	}
	for env := range defaults {
		if !rows[env] {
			t.Errorf("README has no row for %s", env)
		}
	}
}
