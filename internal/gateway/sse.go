package gateway

import (
	"bytes"
	"io"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// sseTransport is gqlgen's transport.SSE (v0.17.98), except that a body
// that is not a JSON request is answered here: gqlgen's log.Printf's such
// a body whole on the standard logger, outside the server's JSON logs, and
// a body may carry variables that are nobody's business in a log. A body
// that decodes here decodes there (the same decoder, with UseNumber), so
// gqlgen's transport never reaches its log lines; the body was read whole
// by limitBody, so reading it cannot fail either.
type sseTransport struct{ transport.SSE }

var _ graphql.Transport = sseTransport{}

// Do answers a body that is not JSON with 400 and the error (code
// BAD_REQUEST), as gqlgen does but without logging it, and passes every other request to gqlgen.
func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	body, err := io.ReadAll(r.Body)
	var params graphql.RawParams
	if err == nil {
		err = jsonDecode(body, &params)
	}
	if err != nil {
		w.Header().Set("Content-Type", mediaJSON)
		w.WriteHeader(http.StatusBadRequest)
		gerr := gqlerror.Errorf("json request body could not be decoded: %v", err)
		errcode.Set(gerr, outcomeBadRequest)
		writeRequestError(w, exec.DispatchError(r.Context(), gqlerror.List{gerr}))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	t.SSE.Do(w, r, exec)
}
