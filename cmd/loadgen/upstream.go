package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func (l *load) upstreamCount() (float64, string, error) {
	if l.o.upstreamMetrics == "" {
		return 0, "", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.o.upstreamMetrics, nil)
	if err != nil {
		return 0, "", err
	}
	if l.o.token != "" {
		req.Header.Set("Authorization", "Bearer "+l.o.token)
	}
	resp, err := l.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, "", fmt.Errorf("%s: HTTP %d", l.o.upstreamMetrics, resp.StatusCode)
	}
	for _, name := range strings.Split(l.o.upstreamMetric, ",") {
		if v, ok := sumCounter(body, strings.TrimSpace(name)); ok {
			return v, name, nil
		}
	}
	return 0, "", fmt.Errorf("%s has none of %s", l.o.upstreamMetrics, l.o.upstreamMetric)
}

// routeOf folds ids out of an upstream path: /campaigns/cam_x is
// /campaigns/{id}.
func routeOf(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if i >= 2 && p != "" {
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}

// sumCounter sums every sample of metric name in a Prometheus text
// exposition.
func sumCounter(body []byte, name string) (float64, bool) {
	var sum float64
	found := false
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}
