package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// limitBody reads the request body up to the limit, answering 413 beyond
// it, so that no later reader sees a cut body.
func (g *Gateway) limitBody(next http.Handler) http.Handler {
	limit := g.o.MaxBodyBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tooLarge := func() {
			w.Header().Set("Connection", "close")
			writeError(w, r, http.StatusRequestEntityTooLarge, outcomeTooLarge,
				fmt.Sprintf("request body exceeds %d bytes", limit))
		}
		if r.ContentLength > limit {
			tooLarge()
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
			if err != nil {
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					tooLarge()
					return
				}
				writeError(w, r, http.StatusBadRequest, outcomeBadRequest, "could not read the request body")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		next.ServeHTTP(w, r)
	})
}
