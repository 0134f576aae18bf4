package main

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/lemlist-graphql/server/lemlist/lemlisttest"
)

// fake is the in-process fake upstream on a fixed address.
type fake struct {
	srv *lemlisttest.Server
	hs  *http.Server
	url string
}

func startFake(o *options) (*fake, error) {
	limit := lemlisttest.NoRateLimit
	if o.fakeRateLimit > 0 {
		limit = o.fakeRateLimit
	}
	ln, err := net.Listen("tcp", o.fakeListen)
	if err != nil {
		return nil, err
	}
	srv := lemlisttest.NewServer(lemlisttest.Options{
		RateLimit: limit,
		Dataset: lemlisttest.DatasetOptions{
			Seed: o.fakeSeed, Activities: o.fakeActivities,
			// The server's demo span; Now stays fixed so runs are identical.
			Span: 28 * 24 * time.Hour,
		},
	})
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = hs.Serve(ln) }()
	return &fake{srv: srv, hs: hs, url: "http://" + ln.Addr().String() + "/api"}, nil
}

func (f *fake) close() {
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = f.hs.Shutdown(sctx)
	f.srv.Close()
}
