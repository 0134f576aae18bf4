package fastrows

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/lemlist-graphql/server/graph"
)

// accessorKey names one field of one Go type.
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
	out   reflect.Type  // the Go type read: the method's result, the field's type
	typed typedAccessor // the generated accessor, if any (accessors_gen.go)
}

// typedAccessor writes the value of one member of o, a model object,
// without reflection; internal/rowsgen generates them.
type typedAccessor func(w *rowWriter, o any, f *fieldPlan) bool

// accessor returns the accessor of field on t, found once and then
// cached; nil when t has no member that answers it.
func (x *Extension) accessor(t reflect.Type, field string) *accessor {
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

// findAccessor binds field to a member of t as gqlgen does: a method of
// t without arguments, else an exported struct field, by name regardless
// of case; nil when neither answers.
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
			return &accessor{fn: m.Func, out: mt.Out(0), typed: typed}
		case mt.NumOut() == 2 && mt.Out(1) == errorType:
			return &accessor{fn: m.Func, errs: true, out: mt.Out(0), typed: typed}
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
		return &accessor{field: f.Index, out: f.Type, typed: typed}
	}
	return nil
}

// fits reports whether the accessor's Go type can be written as scalar
// (none: the field is a list, an object or an enum). A Go type the scalar
// writers know fits its own scalars only; any other is met through
// reflection and checked as a value (rowWriter.leaf).
func (a *accessor) fits(scalar string) bool {
	t := a.out
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	names, known := scalars[t]
	return !known || slices.Contains(names, scalar)
}

// get returns the field's value of v; false on an error, or for a field
// promoted through a nil embedded pointer. args is scratch space for the
// call, reused to save an allocation per call.
func (a *accessor) get(v reflect.Value, args *[1]reflect.Value) (reflect.Value, bool) {
	if !a.fn.IsValid() {
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		fv, err := v.FieldByIndexErr(a.field)
		return fv, err == nil
	}
	args[0] = v
	out := a.fn.Call(args[:])
	if a.errs && !out[1].IsNil() {
		return reflect.Value{}, false
	}
	return out[0], true
}

// resolverFields lists the fields gqlgen answers with resolvers, from
// graph's generated ResolverRoot: lead.activities, campaign.activities…
// Method names are gqlgen's Go names of the fields (ID for id), hence the
// lower case.
func resolverFields() map[string]bool {
	out := map[string]bool{}
	root := reflect.TypeFor[graph.ResolverRoot]()
	for i := range root.NumMethod() {
		typ := root.Method(i)
		rt := typ.Type.Out(0)
		for j := range rt.NumMethod() {
			out[strings.ToLower(typ.Name+"."+rt.Method(j).Name)] = true
		}
	}
	return out
}
