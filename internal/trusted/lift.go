package trusted

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// idKeys are the top-level members that name a document: Relay's doc_id
// (its documentation's network layer) and the GraphQL over HTTP persisted
// documents draft's documentId.
var idKeys = []string{"doc_id", "documentId"}

// LiftDocumentID moves a document id sent beside the query rather than in
// its extensions (a top-level doc_id or documentId of a JSON POST body, or
// such a parameter of a GET) into extensions.documentId, where Documents
// reads it: gqlgen's transports keep only query, operationName, variables
// and extensions. Other requests pass untouched. Mount it inside the body
// size limit, in front of the GraphQL handler.
func LiftDocumentID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			liftQuery(r)
		case http.MethodPost:
			if err := liftBody(r); err != nil {
				http.Error(w, "could not read request body", http.StatusBadRequest)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// liftQuery moves a doc_id or documentId parameter into extensions.
func liftQuery(r *http.Request) {
	q := r.URL.Query()
	id := ""
	for _, k := range idKeys {
		if v := q.Get(k); v != "" && id == "" {
			id = v
		}
		q.Del(k)
	}
	if id == "" {
		return
	}
	ext := map[string]any{}
	if s := q.Get("extensions"); s != "" {
		if json.Unmarshal([]byte(s), &ext) != nil {
			return // the transport reports the bad extensions
		}
	}
	ext["documentId"] = id
	b, _ := json.Marshal(ext)
	q.Set("extensions", string(b))
	u := *r.URL
	u.RawQuery = q.Encode()
	r.URL = &u
}

// liftBody moves a top-level doc_id or documentId of a JSON body into
// extensions. Bodies without either are left as they are, and so is
// anything that is not a JSON object, for the transport to report.
func liftBody(r *http.Request) error {
	if r.Body == nil {
		return nil
	}
	body, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !bytes.Contains(body, []byte(`"doc_id"`)) && !bytes.Contains(body, []byte(`"documentId"`)) {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return nil
	}
	var id json.RawMessage
	for _, k := range idKeys {
		if v, ok := obj[k]; ok {
			if id == nil {
				id = v
			}
			delete(obj, k)
		}
	}
	if id == nil {
		return nil // only inside variables or extensions
	}
	ext := map[string]json.RawMessage{}
	if raw, ok := obj["extensions"]; ok && json.Unmarshal(raw, &ext) != nil {
		return nil
	}
	if ext == nil { // "extensions": null
		ext = map[string]json.RawMessage{}
	}
	ext["documentId"] = id
	obj["extensions"], _ = json.Marshal(ext)
	body, _ = json.Marshal(obj)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}
