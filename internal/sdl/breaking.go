package sdl

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Change is a difference between two schemas that can break a client
// written against the older one.
type Change struct {
	// Path names the schema element: a type ("Lead"), a field
	// ("Lead.email"), an argument ("Query.lead(id:)"), an input field
	// ("ActivityFilter.type"), an enum value ("StatsGroup.DAY") or a
	// directive ("@cached").
	Path string
	// Message says what changed.
	Message string
}

// String is "path: message".
func (c Change) String() string { return c.Path + ": " + c.Message }

// Breaking returns what changes from old to new that can break a client
// of old, sorted by path. It follows graphql-js's findBreakingChanges: a
// type, field, argument, input field, enum value, union member,
// implemented interface or directive removed; a type's kind changed; a
// field's type changed other than made non-null; an argument's or input
// field's type changed other than made nullable; a required argument or
// input field (non-null, without default) added; a directive location or
// repeatable removed. Additions that a client cannot have used (types,
// fields, optional arguments, enum values) are not breaking. Built-in
// definitions are ignored.
func Breaking(old, new *ast.Schema) []Change {
	var out []Change
	add := func(path, format string, a ...any) {
		out = append(out, Change{Path: path, Message: fmt.Sprintf(format, a...)})
	}
	for name, o := range old.Types {
		if o.BuiltIn || strings.HasPrefix(name, "__") {
			continue
		}
		n := new.Types[name]
		switch {
		case n == nil:
			add(name, "type removed")
			continue
		case n.Kind != o.Kind:
			add(name, "changed from %s to %s", kindName(o.Kind), kindName(n.Kind))
			continue
		}
		switch o.Kind {
		case ast.Object, ast.Interface:
			for _, i := range o.Interfaces {
				if !slices.Contains(n.Interfaces, i) {
					add(name, "no longer implements %s", i)
				}
			}
			for _, of := range o.Fields {
				if builtIn(of.Position) || strings.HasPrefix(of.Name, "__") {
					continue
				}
				path := name + "." + of.Name
				nf := n.Fields.ForName(of.Name)
				if nf == nil {
					add(path, "field removed")
					continue
				}
				if !safeOutput(of.Type, nf.Type) {
					add(path, "type changed from %s to %s", of.Type, nf.Type)
				}
				args(add, path, of.Arguments, nf.Arguments)
			}
		case ast.InputObject:
			inputFields(add, name, o.Fields, n.Fields)
		case ast.Enum:
			for _, v := range o.EnumValues {
				if n.EnumValues.ForName(v.Name) == nil {
					add(name+"."+v.Name, "enum value removed")
				}
			}
		case ast.Union:
			for _, t := range o.Types {
				if !slices.Contains(n.Types, t) {
					add(name, "union member %s removed", t)
				}
			}
		}
	}
	for name, o := range old.Directives {
		if builtIn(o.Position) {
			continue
		}
		path := "@" + name
		n := new.Directives[name]
		if n == nil {
			add(path, "directive removed")
			continue
		}
		args(add, path, o.Arguments, n.Arguments)
		if o.IsRepeatable && !n.IsRepeatable {
			add(path, "no longer repeatable")
		}
		for _, l := range o.Locations {
			if !slices.Contains(n.Locations, l) {
				add(path, "location %s removed", l)
			}
		}
	}
	slices.SortFunc(out, func(a, b Change) int {
		return strings.Compare(a.Path+"\x00"+a.Message, b.Path+"\x00"+b.Message)
	})
	return out
}

// args compares the arguments of a field or directive at path.
func args(add func(path, format string, a ...any), path string, old, new ast.ArgumentDefinitionList) {
	for _, o := range old {
		p := path + "(" + o.Name + ":)"
		n := new.ForName(o.Name)
		if n == nil {
			add(p, "argument removed")
			continue
		}
		if !safeInput(o.Type, n.Type) {
			add(p, "type changed from %s to %s", o.Type, n.Type)
		}
	}
	for _, n := range new {
		if old.ForName(n.Name) == nil && required(n.Type, n.DefaultValue) {
			add(path+"("+n.Name+":)", "required argument added")
		}
	}
}

// inputFields compares the fields of input type name.
func inputFields(add func(path, format string, a ...any), name string, old, new ast.FieldList) {
	for _, o := range old {
		p := name + "." + o.Name
		n := new.ForName(o.Name)
		if n == nil {
			add(p, "input field removed")
			continue
		}
		if !safeInput(o.Type, n.Type) {
			add(p, "type changed from %s to %s", o.Type, n.Type)
		}
	}
	for _, n := range new {
		if old.ForName(n.Name) == nil && required(n.Type, n.DefaultValue) {
			add(name+"."+n.Name, "required input field added")
		}
	}
}

func required(t *ast.Type, def *ast.Value) bool { return t.NonNull && def == nil }

// safeOutput reports whether a field of type o can become n without
// breaking a client: same shape and names, non-null allowed where o was
// nullable, never the reverse.
func safeOutput(o, n *ast.Type) bool {
	if o.NonNull && !n.NonNull {
		return false
	}
	if o.Elem != nil {
		return n.Elem != nil && safeOutput(o.Elem, n.Elem)
	}
	return n.Elem == nil && n.NamedType == o.NamedType
}

// safeInput reports whether an argument or input field of type o can
// become n: same shape and names, nullable allowed where o was non-null,
// never the reverse.
func safeInput(o, n *ast.Type) bool {
	if !o.NonNull && n.NonNull {
		return false
	}
	if o.Elem != nil {
		return n.Elem != nil && safeInput(o.Elem, n.Elem)
	}
	return n.Elem == nil && n.NamedType == o.NamedType
}

func kindName(k ast.DefinitionKind) string {
	switch k {
	case ast.InputObject:
		return "an input type"
	case ast.Interface:
		return "an interface"
	case ast.Enum:
		return "an enum"
	case ast.Object:
		return "an object type"
	case ast.Union:
		return "a union"
	case ast.Scalar:
		return "a scalar"
	}
	return string(k)
}
