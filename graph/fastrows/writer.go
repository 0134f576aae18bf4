package fastrows

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/lemlist-graphql/server/graph/model"
)

// rowWriter writes one list. Its plans live as long as the list: @skip
// and @include depend on the request's variables.
type rowWriter struct {
	x    *Extension
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

// fieldPlan is how to write one field of an object: its key, then
// __typename or the value its accessor reads.
type fieldPlan struct {
	key      []byte // the quoted alias and a colon, as gqlgen writes them
	typename []byte // the quoted type name, for __typename
	get      *accessor
	typ      *ast.Type
	sel      ast.SelectionSet
	children plans
}

// value writes v, of GraphQL type t with selection sel, with the plans of
// the objects under the same field; false when it cannot (the buffer is
// then garbage, and the list is gqlgen's).
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
		scalar := "" // the field's scalar; none for a list, object or enum
		if d := w.x.schema.Types[fd.Type.NamedType]; d != nil && d.Kind == ast.Scalar && fd.Type.Elem == nil {
			scalar = d.Name
		}
		if !get.fits(scalar) {
			return p // e.g. a string member under an enum field
		}
		p.fields = append(p.fields, fieldPlan{key: key, get: get, typ: fd.Type, sel: f.Selections, children: plans{}})
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
// reflection, with the writers the generated accessors use, once its Go
// type is known to be the scalar's.
func (w *rowWriter) leaf(v reflect.Value, def *ast.Definition, t *ast.Type) bool {
	f := fieldPlan{typ: t}
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if def.Kind == ast.Enum {
		m, ok := v.Interface().(graphql.Marshaler)
		return ok && w.marshaled(m, &f)
	}
	if !slices.Contains(scalars[v.Type()], def.Name) {
		return false
	}
	switch v.Type() {
	case stringType: // without boxing
		return w.str(v.String(), &f)
	case intType:
		return w.integer(int(v.Int()), &f)
	case boolType:
		return w.boolean(v.Bool(), &f)
	case timeType:
		return w.dateTime(v.Interface().(time.Time), &f)
	case rawType:
		return w.jsonRaw(v.Interface().(json.RawMessage), &f)
	}
	return false
}

// scalars are the GraphQL scalars each Go type the writers below know is
// written as: the scalars whose gqlgen marshalers take that type.
var scalars = map[reflect.Type][]string{
	stringType: {"String", "ID"},
	intType:    {"Int"},
	boolType:   {"Boolean"},
	timeType:   {"DateTime"},
	rawType:    {"JSON"},
}

// The writers of scalars, by Go type, for the generated accessors and for
// leaf. Each writes as gqlgen's marshaler for the field's scalar does; the
// plan (accessor.fits) or leaf has checked that the field is of that
// scalar. They decline (false) only a nil under non-null.

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

func (w *rowWriter) str(s string, _ *fieldPlan) bool {
	w.buf.Write(appendQuoted(w.buf.AvailableBuffer(), s))
	return true
}

func (w *rowWriter) integer(i int, _ *fieldPlan) bool {
	w.buf.Write(strconv.AppendInt(w.buf.AvailableBuffer(), int64(i), 10))
	return true
}

func (w *rowWriter) boolean(b bool, _ *fieldPlan) bool {
	w.buf.Write(strconv.AppendBool(w.buf.AvailableBuffer(), b))
	return true
}

func (w *rowWriter) dateTime(t time.Time, f *fieldPlan) bool {
	return w.marshaled(model.MarshalDateTime(t), f)
}

func (w *rowWriter) jsonRaw(r json.RawMessage, f *fieldPlan) bool {
	if r == nil {
		return w.null(f)
	}
	return w.marshaled(model.MarshalJSON(r), f)
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
