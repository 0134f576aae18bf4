package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lemlist-graphql/server/graph/model"
)

// FastRows is a gqlgen extension that writes the rows of activity
// connections (ActivityConnection.edges and .nodes) itself, where gqlgen's
// executor spends most of a page's CPU: for every row a goroutine, and for
// every field a FieldContext, a context, closures and a boxed result
// (docs/benchmarks.md, round 4). It is a field interceptor: it lets the
// list resolve as usual, then, when it can answer the whole selection,
// returns a graphql.Marshaler with the list's JSON, which gqlgen writes in
// place of its own marshaling (graphql.ResolveField accepts a Marshaler
// from the middleware chain). The JSON is the same, byte for byte
// (TestFastRowsMatchesGqlgen).
//
// It answers only what is plain data: scalar and enum fields, objects
// reached through model methods without arguments or context, __typename,
// fragments, aliases, @skip and @include, all collected by gqlgen's own
// graphql.CollectFields. A selection with anything else (a field with
// arguments, a resolver field such as Lead.activities, @defer, an unknown
// scalar), a nil where the schema says non-null, or an error from a nested
// lookup, is left to gqlgen, which then reports it as it always has.
// Nested lookups were already batched by prefetchNested, so rows written
// one after the other make no more upstream calls than gqlgen's goroutines.
//
// Members are read through the accessors graph/internal/rowsgen generates
// for the model types (fastrows_gen.go), else through reflection; which
// member answers which GraphQL field is decided here, at run time, by the
// rules gqlgen binds with: a method without arguments, else a struct
// field, by name regardless of case.
type FastRows struct {
	schema *ast.Schema
	// resolverFields are "type.field" pairs answered by resolvers, in
	// lower case.
	resolverFields map[string]bool
	accessors      sync.Map // accessorKey -> *accessor (nil when none)

	written, declined atomic.Uint64
}

var _ interface {
	graphql.HandlerExtension
	graphql.FieldInterceptor
} = (*FastRows)(nil)

// NewFastRows returns the extension. One can serve any number of servers.
func NewFastRows() *FastRows {
	return &FastRows{schema: NewExecutableSchema(Config{}).Schema(), resolverFields: resolverFields()}
}

// ExtensionName names the extension for gqlgen.
func (*FastRows) ExtensionName() string { return "FastRows" }

// Validate accepts any schema.
func (*FastRows) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptField writes the rows of ActivityConnection.edges and .nodes.
func (x *FastRows) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Object != "ActivityConnection" || fc.Field.Name != "edges" && fc.Field.Name != "nodes" {
		return next(ctx)
	}
	res, err := next(ctx)
	if err != nil || res == nil || fc.Field.Definition == nil {
		return res, err
	}
	w := rowWriter{x: x, oc: graphql.GetOperationContext(ctx)}
	rv := reflect.ValueOf(res)
	if rv.Kind() == reflect.Slice {
		w.buf.Grow(rv.Len() * 512) // about a row's size: one allocation, not a doubling series
	}
	if !w.write(rv, fc.Field.Definition.Type, fc.Field.Selections) {
		x.declined.Add(1)
		return res, nil // gqlgen marshals it
	}
	x.written.Add(1)
	return rawJSON(w.buf.Bytes()), nil
}

// Stats returns how many lists FastRows wrote, and how many it left to
// gqlgen.
func (x *FastRows) Stats() (written, declined uint64) {
	return x.written.Load(), x.declined.Load()
}

// rawJSON is JSON written ahead of time.
type rawJSON []byte

// MarshalGQL writes the JSON.
func (r rawJSON) MarshalGQL(w io.Writer) { _, _ = w.Write(r) }

// rowWriter writes one list. Its plans live as long as the list: @skip
// and @include depend on the request's variables.
type rowWriter struct {
	x    *FastRows
	oc   *graphql.OperationContext
	buf  bytes.Buffer
	args [1]reflect.Value
}

// plans holds the plans of the objects under one field (or at the top of
// the list), by Go type: under one field, a Go type is one GraphQL object
// type (an interface field has several).
type plans map[reflect.Type]*objectPlan

// objectPlan is how to write one GraphQL object type from one Go type for
// one selection set; ok is false when this writer cannot.
type objectPlan struct {
	fields []fieldPlan
	ok     bool
}

type fieldPlan struct {
	key      []byte // the quoted alias and a colon, as gqlgen writes them
	typename []byte // the quoted type name, for __typename
	get      *accessor
	typ      *ast.Type
	scalar   string // the scalar's name, for a field of a scalar type
	sel      ast.SelectionSet
	children plans
}

// write writes v, of GraphQL type t with selection sel; false when it
// cannot (the buffer is then garbage).
func (w *rowWriter) write(v reflect.Value, t *ast.Type, sel ast.SelectionSet) (ok bool) {
	defer func() {
		if recover() != nil { // a value this writer does not expect: gqlgen's turn
			ok = false
		}
	}()
	return w.value(v, t, sel, plans{})
}

func (w *rowWriter) value(v reflect.Value, t *ast.Type, sel ast.SelectionSet, under plans) bool {
	for v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	if !v.IsValid() || v.Kind() == reflect.Pointer && v.IsNil() || v.Kind() == reflect.Slice && v.IsNil() && t.Elem == nil {
		if t.NonNull {
			return false
		}
		w.buf.WriteString("null")
		return true
	}
	if t.Elem != nil {
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		if v.Kind() != reflect.Slice {
			return false
		}
		if v.IsNil() {
			if t.NonNull {
				return false
			}
			w.buf.WriteString("null")
			return true
		}
		w.buf.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			if !w.value(v.Index(i), t.Elem, sel, under) {
				return false
			}
		}
		w.buf.WriteByte(']')
		return true
	}
	if v.Kind() == reflect.Pointer { // model objects are pointers
		if p := under[v.Type()]; p != nil {
			return w.object(v, p)
		}
	}
	def := w.x.schema.Types[t.NamedType]
	if def == nil {
		return false
	}
	obj := def
	switch def.Kind {
	case ast.Scalar, ast.Enum:
		return w.leaf(v, def, t)
	case ast.Object:
	case ast.Interface, ast.Union:
		// Autobind: the model type has the GraphQL type's name.
		obj = w.x.schema.Types[goTypeName(v.Type())]
		if obj == nil || obj.Kind != ast.Object || !slices.Contains(w.x.schema.GetPossibleTypes(def), obj) {
			return false
		}
	default:
		return false
	}
	p := w.plan(v.Type(), obj, sel)
	under[v.Type()] = p
	return w.object(v, p)
}

// goTypeName is the name of v's type, through one pointer.
func goTypeName(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// object writes v with its plan p.
func (w *rowWriter) object(v reflect.Value, p *objectPlan) bool {
	if !p.ok {
		return false
	}
	o := v.Interface() // for typed accessors; a pointer, so no allocation
	w.buf.WriteByte('{')
	for i := range p.fields {
		f := &p.fields[i]
		if i > 0 {
			w.buf.WriteByte(',')
		}
		w.buf.Write(f.key)
		switch {
		case f.typename != nil:
			w.buf.Write(f.typename)
		case f.get.typed != nil:
			if !f.get.typed(w, o, f) {
				return false
			}
		default:
			fv, ok := f.get.get(v, &w.args)
			if !ok || !w.value(fv, f.typ, f.sel, f.children) {
				return false
			}
		}
	}
	w.buf.WriteByte('}')
	return true
}

// plan collects the fields of sel for def (gqlgen's graphql.CollectFields)
// and binds each to an accessor of goType.
func (w *rowWriter) plan(goType reflect.Type, def *ast.Definition, sel ast.SelectionSet) *objectPlan {
	p := &objectPlan{}
	satisfies := []string{def.Name}
	for _, i := range w.x.schema.GetImplements(def) {
		satisfies = append(satisfies, i.Name)
	}
	for _, f := range graphql.CollectFields(w.oc, sel, satisfies) {
		if len(f.Deferrables) > 0 {
			return p
		}
		key := append(quoted(f.Alias), ':')
		if f.Name == "__typename" {
			p.fields = append(p.fields, fieldPlan{key: key, typename: quoted(def.Name)})
			continue
		}
		fd := def.Fields.ForName(f.Name)
		if fd == nil || len(fd.Arguments) > 0 || w.x.resolverFields[strings.ToLower(def.Name+"."+f.Name)] {
			return p
		}
		get := w.x.accessor(goType, f.Name)
		if get == nil {
			return p
		}
		fp := fieldPlan{key: key, get: get, typ: fd.Type, sel: f.Selections, children: plans{}}
		if d := w.x.schema.Types[fd.Type.NamedType]; d != nil && d.Kind == ast.Scalar && fd.Type.Elem == nil {
			fp.scalar = d.Name
		}
		p.fields = append(p.fields, fp)
	}
	p.ok = true
	return p
}

// quoted is s as gqlgen writes a string.
func quoted(s string) []byte { return appendQuoted(nil, s) }

// appendQuoted appends s as a JSON string exactly as gqlgen's
// graphql.MarshalString writes it (its unexported writeQuotedString, v0.17.98):
// only control characters, '\\' and '"' are escaped, the rest, invalid
// UTF-8 included, is copied. It saves MarshalString's closure and its
// writes through io.Writer; FuzzAppendQuoted compares the two.
func appendQuoted(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\t':
			b = append(b, `\t`...)
		case '\r':
			b = append(b, `\r`...)
		case '\n':
			b = append(b, `\n`...)
		case '\\', '"':
			b = append(b, '\\', c)
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// leaf writes a scalar or enum value of GraphQL type t (def) met through
// reflection, with the writers the generated accessors use.
func (w *rowWriter) leaf(v reflect.Value, def *ast.Definition, t *ast.Type) bool {
	f := fieldPlan{typ: t}
	if def.Kind == ast.Scalar {
		f.scalar = def.Name
	}
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	switch {
	case def.Kind == ast.Enum:
		m, ok := v.Interface().(graphql.Marshaler)
		return ok && w.marshaled(m, &f)
	case v.Type() == stringType: // without boxing
		return w.str(v.String(), &f)
	case v.Type() == intType:
		return w.integer(int(v.Int()), &f)
	case v.Type() == boolType:
		return w.boolean(v.Bool(), &f)
	case v.Type() == timeType:
		return w.dateTime(v.Interface().(time.Time), &f)
	case v.Type() == rawType:
		return w.jsonRaw(v.Interface().(json.RawMessage), &f)
	}
	return false
}

// The writers of scalars, by Go type, for the generated accessors and for
// leaf. Each writes as gqlgen's marshaler for the field's scalar does, and
// declines (false) a field of another type or a nil under non-null.

func (w *rowWriter) null(f *fieldPlan) bool {
	if f.typ.NonNull {
		return false
	}
	w.buf.WriteString("null")
	return true
}

// orNull writes *p with write, or null when p is nil.
func orNull[T any](w *rowWriter, p *T, f *fieldPlan, write func(*rowWriter, T, *fieldPlan) bool) bool {
	if p == nil {
		return w.null(f)
	}
	return write(w, *p, f)
}

func (w *rowWriter) str(s string, f *fieldPlan) bool {
	if f.scalar != "String" && f.scalar != "ID" {
		return false
	}
	w.buf.Write(appendQuoted(w.buf.AvailableBuffer(), s))
	return true
}

func (w *rowWriter) integer(i int, f *fieldPlan) bool {
	if f.scalar != "Int" {
		return false
	}
	w.buf.Write(strconv.AppendInt(w.buf.AvailableBuffer(), int64(i), 10))
	return true
}

func (w *rowWriter) boolean(b bool, f *fieldPlan) bool {
	if f.scalar != "Boolean" {
		return false
	}
	w.buf.Write(strconv.AppendBool(w.buf.AvailableBuffer(), b))
	return true
}

func (w *rowWriter) dateTime(t time.Time, f *fieldPlan) bool {
	return f.scalar == "DateTime" && w.marshaled(model.MarshalDateTime(t), f)
}

func (w *rowWriter) jsonRaw(r json.RawMessage, f *fieldPlan) bool {
	if r == nil {
		return w.null(f)
	}
	return f.scalar == "JSON" && w.marshaled(model.MarshalJSON(r), f)
}

// marshaled writes m, the answer of a scalar's marshaler.
func (w *rowWriter) marshaled(m graphql.Marshaler, f *fieldPlan) bool {
	if m == graphql.Null && f.typ.NonNull {
		return false
	}
	m.MarshalGQL(&w.buf)
	return true
}

// reflected writes any other value: objects, enums, lists.
func (w *rowWriter) reflected(v reflect.Value, f *fieldPlan) bool {
	return w.value(v, f.typ, f.sel, f.children)
}

type accessorKey struct {
	t     reflect.Type
	field string
}

// accessor reads one field of one Go type as gqlgen binds it: a method
// without arguments (returning the value, or the value and an error),
// else a struct field, matched by name regardless of case.
type accessor struct {
	fn    reflect.Value // the method, receiver first; invalid for a field
	field []int         // struct field index, when fn is not valid
	errs  bool          // the method also returns an error
	typed typedAccessor // the generated accessor, if any (fastrows_gen.go)
}

// typedAccessor writes the value of one member of o, a model object,
// without reflection; graph/internal/rowsgen generates them.
type typedAccessor func(w *rowWriter, o any, f *fieldPlan) bool

func (x *FastRows) accessor(t reflect.Type, field string) *accessor {
	k := accessorKey{t, field}
	if a, ok := x.accessors.Load(k); ok {
		return a.(*accessor)
	}
	a := findAccessor(t, field)
	x.accessors.Store(k, a)
	return a
}

var (
	errorType  = reflect.TypeFor[error]()
	stringType = reflect.TypeFor[string]()
	intType    = reflect.TypeFor[int]()
	boolType   = reflect.TypeFor[bool]()
	timeType   = reflect.TypeFor[time.Time]()
	rawType    = reflect.TypeFor[json.RawMessage]()
)

func findAccessor(t reflect.Type, field string) *accessor {
	for i := range t.NumMethod() {
		m := t.Method(i)
		if !strings.EqualFold(m.Name, field) {
			continue
		}
		typed := typedAccessors[t][m.Name]
		switch mt := m.Type; {
		case mt.NumIn() != 1: // the receiver only: no context, no arguments
			return nil
		case mt.NumOut() == 1:
			return &accessor{fn: m.Func, typed: typed}
		case mt.NumOut() == 2 && mt.Out(1) == errorType:
			return &accessor{fn: m.Func, errs: true, typed: typed}
		}
		return nil
	}
	st := t
	if st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st.Kind() != reflect.Struct {
		return nil
	}
	if f, ok := st.FieldByNameFunc(func(n string) bool {
		return strings.EqualFold(n, field) && unicode.IsUpper(rune(n[0]))
	}); ok {
		var typed typedAccessor
		if len(f.Index) == 1 {
			typed = typedAccessors[t][f.Name]
		}
		return &accessor{field: f.Index, typed: typed}
	}
	return nil
}

// get returns the field's value of v; false on an error. args is scratch
// space for the call, reused to save an allocation per call.
func (a *accessor) get(v reflect.Value, args *[1]reflect.Value) (reflect.Value, bool) {
	if !a.fn.IsValid() {
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		return v.FieldByIndex(a.field), true
	}
	args[0] = v
	out := a.fn.Call(args[:])
	if a.errs && !out[1].IsNil() {
		return reflect.Value{}, false
	}
	return out[0], true
}

// resolverFields lists the fields gqlgen answers with resolvers, from the
// generated ResolverRoot: lead.activities, campaign.activities… Method names
// are gqlgen's Go names of the fields (ID for id), hence the lower case.
func resolverFields() map[string]bool {
	out := map[string]bool{}
	root := reflect.TypeFor[ResolverRoot]()
	for i := range root.NumMethod() {
		typ := root.Method(i)
		rt := typ.Type.Out(0)
		for j := range rt.NumMethod() {
			out[strings.ToLower(typ.Name+"."+rt.Method(j).Name)] = true
		}
	}
	return out
}
