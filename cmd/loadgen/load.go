package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// load is one load run.
type load struct {
	o     *options
	mix   []mixEntry
	seq   []string
	fake  *fake
	hc    *http.Client
	auth  string // upstream Basic credentials for direct100
	pages map[string][]byte

	campaigns, leads []string
}

func newLoad(o *options, mix []mixEntry, fk *fake) *load {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * o.clients,
		MaxIdleConnsPerHost: 2 * o.clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	l := &load{
		o: o, mix: mix, seq: schedule(mix), fake: fk,
		hc:    &http.Client{Transport: tr, Timeout: o.timeout},
		auth:  "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+o.upstreamKey)),
		pages: map[string][]byte{},
	}
	for _, n := range []int{20, 100} {
		l.pages[fmt.Sprintf("page%d", n)], _ = json.Marshal(gqlRequest{Query: pageQuery, Variables: map[string]any{"first": n}})
	}
	l.pages["lean100"], _ = json.Marshal(gqlRequest{Query: leanQuery})
	return l
}

func (l *load) uses(name string) bool {
	for _, e := range l.mix {
		if e.name == name {
			return true
		}
	}
	return false
}

// prepare waits for the server and discovers the ids the parameterised
// queries need.
func (l *load) prepare(ctx context.Context) error {
	gql := false
	for _, e := range l.mix {
		gql = gql || e.name != "direct100"
	}
	if l.uses("direct100") && l.o.upstreamURL == "" {
		return errors.New("direct100 needs -fake-listen or -upstream-url")
	}
	deadline := time.Now().Add(l.o.waitReady)
	for {
		var err error
		if gql {
			_, err = l.graphql(ctx, nil, "ping", gqlRequest{Query: pingQuery})
		} else {
			var res result
			res = l.direct(ctx, nil)
			err = res.err()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("server not ready after %s: %v", l.o.waitReady, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !(l.uses("replies") || l.uses("timeline") || l.uses("campaign")) {
		return nil
	}
	var data struct {
		Activities struct {
			Nodes []struct {
				Campaign *struct{ ID string }
				Lead     *struct{ ID string }
			}
		}
	}
	res, err := l.graphql(ctx, &data, "discover", gqlRequest{Query: discoverQuery})
	if err == nil {
		err = res.err()
	}
	if err != nil {
		return fmt.Errorf("discovering ids: %v", err)
	}
	seenC, seenL := map[string]bool{}, map[string]bool{}
	for _, n := range data.Activities.Nodes {
		if n.Campaign != nil && !seenC[n.Campaign.ID] {
			seenC[n.Campaign.ID] = true
			l.campaigns = append(l.campaigns, n.Campaign.ID)
		}
		if n.Lead != nil && !seenL[n.Lead.ID] {
			seenL[n.Lead.ID] = true
			l.leads = append(l.leads, n.Lead.ID)
		}
	}
	if len(l.campaigns) == 0 || len(l.leads) == 0 {
		return errors.New("discovering ids: the first 100 activities name no campaign or no lead")
	}
	return nil
}

// phase runs every client until the deadline or until take refuses.
// When record is false (warm-up) nothing is kept.
func (l *load) phase(ctx context.Context, d time.Duration, budget int64, record bool) []*client {
	deadline := time.Now().Add(d)
	var taken atomic.Int64
	take := func() bool {
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		return budget <= 0 || taken.Add(1) <= budget
	}
	clients := make([]*client, l.o.clients)
	var wg sync.WaitGroup
	for i := range clients {
		c := &client{l: l, id: i, per: map[string]*hist{}, msgs: map[string]int64{}}
		clients[i] = c
		wg.Go(func() {
			emit := func(res result) {
				if record {
					c.record(res)
				}
			}
			// Clients start at different places of the schedule.
			// The loop ends when take refuses: at the deadline, when the
			// budget is spent, or on SIGINT.
			for j := i; c.op(ctx, l.seq[j%len(l.seq)], take, emit); j++ {
			}
		})
	}
	wg.Wait()
	return clients
}

// run warms up, then measures.
func (l *load) run(ctx context.Context) (*report, error) {
	if l.o.warmup > 0 {
		l.phase(ctx, l.o.warmup, 0, false)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	rep := &report{
		Label: l.o.label, URL: l.o.url, Clients: l.o.clients, Mix: l.o.mix, Duration: l.o.duration.String(),
		Warmup: l.o.warmup.String(), MaxRequests: l.o.requests,
	}
	var p0 procSample
	var perr error
	if l.o.pid > 0 {
		p0, perr = readProc(l.o.pid)
	}
	self0, _ := readProc(os.Getpid())
	m0, metricName, merr := l.upstreamCount()
	if l.fake != nil {
		l.fake.srv.ResetRequests()
	}
	start := time.Now()
	clients := l.phase(ctx, l.o.duration, int64(l.o.requests), true)
	elapsed := time.Since(start)
	rep.Interrupted = ctx.Err() != nil
	if self1, err := readProc(os.Getpid()); err == nil && self0.CPU > 0 {
		// The load generator's own CPU (clients and, with -fake-listen, the
		// fake upstream): on a small machine it competes with the server.
		rep.LoadgenCores = float64(self1.CPU-self0.CPU) / float64(elapsed)
	}

	var all hist
	per := map[string]*hist{}
	perErr := map[string]*errorCounts{}
	msgs := map[string]int64{}
	for _, c := range clients {
		all.merge(&c.all)
		for k, h := range c.per {
			if per[k] == nil {
				per[k] = &hist{}
			}
			per[k].merge(h)
		}
		rep.Errors.add(c.errs)
		for m, n := range c.msgs {
			msgs[m] += n
			k, _, _ := strings.Cut(m, " ")
			if perErr[k] == nil {
				perErr[k] = &errorCounts{}
			}
			perErr[k].Total += n
		}
	}
	rep.Requests = int64(all.n)
	rep.ElapsedS = elapsed.Seconds()
	rep.Throughput = float64(all.n) / elapsed.Seconds()
	rep.Latency = latencyOf(&all)
	names := make([]string, 0, len(per))
	for k := range per {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		q := queryStats{Name: k, Requests: int64(per[k].n), Latency: latencyOf(per[k])}
		if e := perErr[k]; e != nil {
			q.Errors = e.Total
		}
		rep.Queries = append(rep.Queries, q)
	}
	for m, n := range msgs {
		rep.ErrorSamples = append(rep.ErrorSamples, errorSample{m, n})
	}
	sort.Slice(rep.ErrorSamples, func(i, j int) bool { return rep.ErrorSamples[i].Count > rep.ErrorSamples[j].Count })

	if l.o.pid > 0 {
		sv := &serverStats{PID: l.o.pid}
		p1, err := readProc(l.o.pid)
		if perr == nil {
			perr = err
		}
		if perr != nil {
			sv.Error = perr.Error()
		} else {
			sv.CPUms = float64(p1.CPU-p0.CPU) / float64(time.Millisecond)
			if all.n > 0 {
				sv.CPUmsPerRequest = sv.CPUms / float64(all.n)
			}
			sv.CPUUtil = float64(p1.CPU-p0.CPU) / float64(elapsed)
			sv.PeakRSSMB = float64(p1.HWMkB) / 1024
			sv.RSSStartMB = float64(p0.RSSkB) / 1024
			sv.RSSEndMB = float64(p1.RSSkB) / 1024
		}
		rep.Server = sv
	}

	if l.fake != nil {
		up := &upstreamStats{Source: "fake", ByPath: map[string]int64{}, ByStatus: map[string]int64{}}
		for _, r := range l.fake.srv.Requests() {
			up.Calls++
			up.ByPath[routeOf(r.Path)]++
			up.ByStatus[strconv.Itoa(r.Status)]++
		}
		up.MaxInWindow = l.fake.srv.MaxInWindow()
		up.finish(rep, elapsed)
		rep.Upstream = up
	} else if l.o.upstreamMetrics != "" {
		up := &upstreamStats{Source: "metrics " + metricName}
		m1, _, err := l.upstreamCount()
		if merr == nil {
			merr = err
		}
		if merr != nil {
			up.Error = merr.Error()
		} else {
			up.Calls = int64(m1 - m0)
			up.finish(rep, elapsed)
		}
		rep.Upstream = up
	}
	return rep, nil
}
