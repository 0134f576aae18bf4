package tracing

import (
	"strings"
	"testing"
)

func TestParseEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env     map[string]string
		on      bool
		service string
		err     string
	}{
		{env: nil, service: "lemlist-graphql"},
		{env: map[string]string{"OTEL_SERVICE_NAME": "gql"}, service: "gql"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, on: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "OTLP "}, on: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, on: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, on: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "false"}, on: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, err: "invalid OTEL_TRACES_EXPORTER"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, err: "invalid OTEL_EXPORTER_OTLP_PROTOCOL"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, on: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}}, // off: not checked
	}
	for _, tc := range tests {
		c, err := ParseEnv(func(k string) string { return tc.env[k] })
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.env, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.env, err)
			continue
		}
		if c.Enabled != tc.on {
			t.Errorf("%v: enabled = %v, want %v", tc.env, c.Enabled, tc.on)
		}
		if tc.service != "" && c.ServiceName != tc.service {
			t.Errorf("%v: service = %q, want %q", tc.env, c.ServiceName, tc.service)
		}
	}
}

func TestUpstreamRoute(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"/api/activities":         "activities",
		"/api/leads":              "leads",
		"/api/contacts":           "contacts",
		"/api/team":               "team",
		"/api/hooks":              "hooks",
		"/api/hooks/hoo_1":        "hooks/{id}",
		"/api/campaigns/cam_1":    "campaigns/{id}",
		"/proxy/api/campaigns/x/": "campaigns/{id}",
	} {
		if got := upstreamRoute(path); got != want {
			t.Errorf("upstreamRoute(%q) = %q, want %q", path, got, want)
		}
	}
}
