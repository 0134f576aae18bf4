// Package trusted makes the GraphQL endpoint run only the operations of an
// allowlist ("trusted documents", persisted queries, a safelist), so that
// a public web app can only run its own operations.
//
// The allowlist is a manifest that the app's build writes: Relay's
// persisted-query JSON (relay-compiler's persistConfig, {"<id>": "<text>"})
// or Apollo's persisted query manifest
// ({"format":"apollo-persisted-query-manifest","version":1,"operations":
// [{"id","name","type","body"}]}, from
// @apollo/generate-persisted-query-manifest). Documents gives the gqlgen
// extension. A request names its document by id, in
// extensions.persistedQuery.sha256Hash (Apollo's persisted queries link),
// extensions.documentId (the GraphQL over HTTP persisted documents
// draft), or Relay's top-level doc_id or documentId, which LiftDocumentID
// moves into extensions; or it sends the document's exact text. Anything
// else is refused before it is parsed:
//
//   - an id the manifest lacks: PERSISTED_QUERY_NOT_FOUND (Apollo's link
//     then sends the text, which is checked in turn);
//   - a text the manifest lacks, or an id with a different text:
//     PERSISTED_QUERY_NOT_ALLOWED.
package trusted

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Error codes, in extensions.code.
const (
	// CodeNotFound refuses an id that is not in the manifest. It is the
	// code of automatic persisted queries, so that Apollo's link retries
	// with the text.
	CodeNotFound = "PERSISTED_QUERY_NOT_FOUND"
	// CodeNotAllowed refuses a document that is not in the manifest.
	CodeNotAllowed = "PERSISTED_QUERY_NOT_ALLOWED"
)

// apolloFormat is the "format" of Apollo's persisted query manifests.
const apolloFormat = "apollo-persisted-query-manifest"

// Manifest is an allowlist of GraphQL documents by id. It is read-only
// once built, and safe for concurrent use.
type Manifest struct {
	byID   map[string]string
	byText map[string]bool
}

// Load reads and merges manifest files (see Parse). An id that two files
// give different texts is an error.
func Load(paths ...string) (*Manifest, error) {
	m := &Manifest{byID: map[string]string{}, byText: map[string]bool{}}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("trusted documents: %w", err)
		}
		if err := m.add(b); err != nil {
			return nil, fmt.Errorf("trusted documents %s: %w", p, err)
		}
	}
	return m, nil
}

// Parse reads one manifest: Relay's persisted-query JSON, an object of id
// to document text, or Apollo's persisted query manifest, version 1.
func Parse(b []byte) (*Manifest, error) {
	m := &Manifest{byID: map[string]string{}, byText: map[string]bool{}}
	if err := m.add(b); err != nil {
		return nil, fmt.Errorf("trusted documents: %w", err)
	}
	return m, nil
}

func (m *Manifest) add(b []byte) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	if f, ok := obj["format"]; ok && bytes.Contains(f, []byte(apolloFormat)) {
		var am struct {
			Format     string `json:"format"`
			Version    int    `json:"version"`
			Operations []struct {
				ID, Name, Type, Body string
			} `json:"operations"`
		}
		if err := json.Unmarshal(b, &am); err != nil {
			return fmt.Errorf("apollo manifest: %w", err)
		}
		if am.Format != apolloFormat || am.Version != 1 {
			return fmt.Errorf("apollo manifest: format %q version %d, want %q version 1", am.Format, am.Version, apolloFormat)
		}
		for i, op := range am.Operations {
			if err := m.put(op.ID, op.Body); err != nil {
				return fmt.Errorf("apollo manifest: operations[%d] (%s): %w", i, op.Name, err)
			}
		}
		return nil
	}
	for id, raw := range obj {
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return fmt.Errorf("relay manifest: %q: the value must be the document's text", id)
		}
		if err := m.put(id, text); err != nil {
			return fmt.Errorf("relay manifest: %w", err)
		}
	}
	return nil
}

func (m *Manifest) put(id, text string) error {
	switch {
	case id == "":
		return errors.New("a document without id")
	case strings.TrimSpace(text) == "":
		return fmt.Errorf("document %q is empty", id)
	case m.byID[id] != "" && m.byID[id] != text:
		return fmt.Errorf("id %q names two different documents", id)
	}
	m.byID[id] = text
	m.byText[text] = true
	return nil
}

// Len is the number of documents.
func (m *Manifest) Len() int { return len(m.byID) }

// Check parses and validates every document against schema, and returns
// the problems of all those that fail, e.g. a manifest built against a
// field the server no longer has. Call it at startup.
func (m *Manifest) Check(schema *ast.Schema) error {
	ids := make([]string, 0, len(m.byID))
	for id := range m.byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var errs []error
	for _, id := range ids {
		if _, list := gqlparser.LoadQuery(schema, m.byID[id]); len(list) > 0 {
			errs = append(errs, fmt.Errorf("document %s: %w", id, list))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("trusted documents do not match the schema: %w", errors.Join(errs...))
	}
	return nil
}

// Documents is the gqlgen extension that runs only the documents of
// Manifest. Use it (srv.Use) before extension.AutomaticPersistedQuery,
// which it makes redundant: automatic persisted queries register any
// document a client sends, which trusted documents forbid.
type Documents struct {
	// Manifest is the allowlist; it must not be nil.
	Manifest *Manifest
	// Bypass, if set, tells whether a request may run any document, e.g.
	// one authenticated as a federation gateway or an internal tool. It is
	// given the request's context.
	Bypass func(ctx context.Context) bool
}

var _ interface {
	graphql.OperationParameterMutator
	graphql.HandlerExtension
} = Documents{}

// ExtensionName names the extension.
func (Documents) ExtensionName() string { return "TrustedDocuments" }

// Validate checks that there is a manifest.
func (d Documents) Validate(graphql.ExecutableSchema) error {
	if d.Manifest == nil {
		return errors.New("trusted.Documents: Manifest is nil")
	}
	return nil
}

// MutateOperationParameters replaces a document id by its text, and
// refuses ids and texts that are not in the manifest.
func (d Documents) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if d.Bypass != nil && d.Bypass(ctx) {
		return nil
	}
	id, err := documentID(p.Extensions)
	if err != nil {
		return err
	}
	if id == "" {
		if p.Query == "" || d.Manifest.byText[p.Query] {
			return nil // no document: the executor refuses it
		}
		return refuse(CodeNotAllowed, "this server runs only trusted documents, and this one is not in its manifest")
	}
	text, ok := d.Manifest.byID[id]
	if !ok {
		if t, found := d.Manifest.byID[strings.TrimPrefix(id, "sha256:")]; found {
			text, ok = t, true
		}
	}
	switch {
	case !ok:
		return refuse(CodeNotFound, fmt.Sprintf("document id %q is not in the server's trusted documents", id))
	case p.Query != "" && p.Query != text:
		return refuse(CodeNotAllowed, fmt.Sprintf("the text sent is not the trusted document %q", id))
	}
	p.Query = text
	// The id is resolved: automatic persisted queries, if they run next,
	// must not check it as a SHA-256 of the text (Relay's are MD5 by
	// default).
	delete(p.Extensions, "persistedQuery")
	return nil
}

// documentID returns the id a request names, or "".
func documentID(ext map[string]any) (string, *gqlerror.Error) {
	if pq, ok := ext["persistedQuery"].(map[string]any); ok {
		if h, ok := pq["sha256Hash"].(string); ok && h != "" {
			return h, nil
		}
		return "", refuse(CodeNotAllowed, "extensions.persistedQuery has no sha256Hash")
	}
	for _, k := range []string{"documentId", "doc_id"} {
		switch v := ext[k].(type) {
		case nil:
		case string:
			if v != "" {
				return v, nil
			}
		default:
			return "", refuse(CodeNotAllowed, "extensions."+k+" must be a string")
		}
	}
	return "", nil
}

func refuse(code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}
