package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

type latency struct {
	P50  float64 `json:"p50_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func latencyOf(h *hist) latency {
	return latency{
		P50: ms(h.quantile(0.50)), P95: ms(h.quantile(0.95)), P99: ms(h.quantile(0.99)),
		Max: ms(time.Duration(h.max)), Mean: ms(h.mean()),
	}
}

type queryStats struct {
	Name     string  `json:"name"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Latency  latency `json:"latency"`
}

type errorSample struct {
	Message string `json:"message"`
	Count   int64  `json:"count"`
}

type serverStats struct {
	PID             int     `json:"pid"`
	CPUms           float64 `json:"cpu_ms"`
	CPUmsPerRequest float64 `json:"cpu_ms_per_request"`
	CPUUtil         float64 `json:"cpu_cores_used"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`
	RSSStartMB      float64 `json:"rss_start_mb"`
	RSSEndMB        float64 `json:"rss_end_mb"`
	Error           string  `json:"error,omitempty"`
}

type upstreamStats struct {
	Source          string           `json:"source"`
	Calls           int64            `json:"calls"`
	CallsPerSecond  float64          `json:"calls_per_s"`
	CallsPerRequest float64          `json:"calls_per_request"`
	ByPath          map[string]int64 `json:"by_path,omitempty"`
	ByStatus        map[string]int64 `json:"by_status,omitempty"`
	MaxInWindow     int              `json:"max_in_2s_window,omitempty"`
	Error           string           `json:"error,omitempty"`
}

func (u *upstreamStats) finish(rep *report, elapsed time.Duration) {
	u.CallsPerSecond = float64(u.Calls) / elapsed.Seconds()
	if rep.Requests > 0 {
		u.CallsPerRequest = float64(u.Calls) / float64(rep.Requests)
	}
}

type report struct {
	Label        string         `json:"label,omitempty"`
	URL          string         `json:"url"`
	Clients      int            `json:"clients"`
	Mix          string         `json:"mix"`
	Duration     string         `json:"duration"`
	Warmup       string         `json:"warmup"`
	MaxRequests  int            `json:"max_requests,omitempty"`
	Interrupted  bool           `json:"interrupted,omitempty"`
	Requests     int64          `json:"requests"`
	ElapsedS     float64        `json:"elapsed_s"`
	Throughput   float64        `json:"throughput_rps"`
	Latency      latency        `json:"latency"`
	Queries      []queryStats   `json:"queries"`
	Errors       errorCounts    `json:"errors"`
	ErrorSamples []errorSample  `json:"error_samples,omitempty"`
	LoadgenCores float64        `json:"loadgen_cpu_cores"`
	Server       *serverStats   `json:"server,omitempty"`
	Upstream     *upstreamStats `json:"upstream,omitempty"`
}

func (r *report) print(w io.Writer) {
	if r.Label != "" {
		fmt.Fprintf(w, "== %s\n", r.Label)
	}
	fmt.Fprintf(w, "loadgen: %d clients, %s (after %s warm-up), mix %s -> %s\n", r.Clients, r.Duration, r.Warmup, r.Mix, r.URL)
	fmt.Fprintf(w, "requests   %d in %.2fs = %.1f req/s (loadgen itself used %.2f cores)\n", r.Requests, r.ElapsedS, r.Throughput, r.LoadgenCores)
	pl := func(l latency) string {
		return fmt.Sprintf("p50 %.2fms  p95 %.2fms  p99 %.2fms  max %.2fms  mean %.2fms", l.P50, l.P95, l.P99, l.Max, l.Mean)
	}
	fmt.Fprintf(w, "latency    %s\n", pl(r.Latency))
	for _, q := range r.Queries {
		fmt.Fprintf(w, "  %-10s %7d req, %d errors, %s\n", q.Name, q.Requests, q.Errors, pl(q.Latency))
	}
	e := r.Errors
	fmt.Fprintf(w, "errors     %d (transport %d, HTTP non-200 %d of which 5xx %d, GraphQL errors %d, bad body %d)\n",
		e.Total, e.Transport, e.HTTPNon200, e.HTTP5xx, e.GraphQL, e.BadBody)
	for i, s := range r.ErrorSamples {
		if i == 5 {
			break
		}
		fmt.Fprintf(w, "  %6d x %s\n", s.Count, s.Message)
	}
	if s := r.Server; s != nil {
		if s.Error != "" {
			fmt.Fprintf(w, "server     pid %d: %s\n", s.PID, s.Error)
		} else {
			fmt.Fprintf(w, "server     pid %d: CPU %.0f ms = %.3f ms/request (%.2f cores); peak RSS (VmHWM) %.1f MB, RSS %.1f -> %.1f MB\n",
				s.PID, s.CPUms, s.CPUmsPerRequest, s.CPUUtil, s.PeakRSSMB, s.RSSStartMB, s.RSSEndMB)
		}
	}
	if u := r.Upstream; u != nil {
		if u.Error != "" {
			fmt.Fprintf(w, "upstream   %s: %s\n", u.Source, u.Error)
		} else {
			fmt.Fprintf(w, "upstream   %s: %d calls = %.2f per request, %.1f/s", u.Source, u.Calls, u.CallsPerRequest, u.CallsPerSecond)
			if len(u.ByPath) > 0 {
				fmt.Fprintf(w, "; by path %v; by status %v; max in a 2 s window %d", u.ByPath, u.ByStatus, u.MaxInWindow)
			}
			fmt.Fprintln(w)
		}
	}
}

// printTable prints the JSON reports in files as one Markdown table.
func printTable(w io.Writer, files []string) error {
	fmt.Fprintln(w, "| run | mix | clients | requests | req/s | p50 ms | p95 ms | p99 ms | errors (GraphQL / non-200 / 5xx) | server CPU ms/req | server cores | peak RSS MB | upstream calls/req | upstream calls/s | loadgen cores |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var r report
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		name := r.Label
		if name == "" {
			name = f
		}
		cpu, cores, rss := "–", "–", "–"
		if s := r.Server; s != nil && s.Error == "" {
			cpu = fmt.Sprintf("%.3f", s.CPUmsPerRequest)
			cores = fmt.Sprintf("%.2f", s.CPUUtil)
			rss = fmt.Sprintf("%.1f", s.PeakRSSMB)
		}
		upr, ups := "–", "–"
		if u := r.Upstream; u != nil && u.Error == "" {
			upr = fmt.Sprintf("%.2f", u.CallsPerRequest)
			ups = fmt.Sprintf("%.1f", u.CallsPerSecond)
		}
		e := r.Errors
		fmt.Fprintf(w, "| %s | %s | %d | %d | %.1f | %.2f | %.2f | %.2f | %d (%d / %d / %d) | %s | %s | %s | %s | %s | %.2f |\n",
			name, r.Mix, r.Clients, r.Requests, r.Throughput, r.Latency.P50, r.Latency.P95, r.Latency.P99,
			e.Total, e.GraphQL, e.HTTPNon200, e.HTTP5xx, cpu, cores, rss, upr, ups, r.LoadgenCores)
	}
	return nil
}
