package message

import (
	"fmt"

	"github.com/mcorun/mcorun/runtime/marshal"
)

// decodeFilter reads the wire filter: a Hash with String keys "fact", "cf_class", "agent",
// "identity" and "compound". Unknown keys, such as discovery's "collective", are ignored.
func decodeFilter(v any) (Filter, error) {
	var f Filter
	m, ok := v.(map[any]any)
	if !ok {
		return f, fmt.Errorf("%w: :filter: want a Hash, got %s", ErrMalformed, typeName(v))
	}
	var err error
	if f.CFClass, err = stringList(m, "cf_class"); err != nil {
		return f, err
	}
	if f.Agent, err = stringList(m, "agent"); err != nil {
		return f, err
	}
	if f.Identity, err = stringList(m, "identity"); err != nil {
		return f, err
	}
	facts, err := list(m, "fact")
	if err != nil {
		return f, err
	}
	for i, e := range facts {
		fm, ok := e.(map[any]any)
		if !ok {
			return f, fmt.Errorf("%w: filter fact %d: want a Hash, got %s", ErrMalformed, i, typeName(e))
		}
		var ff FactFilter
		if ff.Fact, err = optString(fm, "fact"); err != nil {
			return f, fmt.Errorf("filter fact %d: %w", i, err)
		}
		if ff.Value, err = scalarString(fm, "value"); err != nil {
			return f, fmt.Errorf("filter fact %d: %w", i, err)
		}
		if ff.Operator, err = optString(fm, "operator"); err != nil {
			return f, fmt.Errorf("filter fact %d: %w", i, err)
		}
		f.Fact = append(f.Fact, ff)
	}
	compound, err := list(m, "compound")
	if err != nil {
		return f, err
	}
	for i, e := range compound {
		expr, ok := e.([]any)
		if !ok {
			return f, fmt.Errorf("%w: compound %d: want an Array, got %s", ErrMalformed, i, typeName(e))
		}
		items := make([]CompoundItem, 0, len(expr))
		for j, it := range expr {
			item, err := decodeCompoundItem(it)
			if err != nil {
				return f, fmt.Errorf("compound %d item %d: %w", i, j, err)
			}
			items = append(items, item)
		}
		f.Compound = append(f.Compound, items)
	}
	return f, nil
}

func decodeCompoundItem(v any) (CompoundItem, error) {
	m, ok := v.(map[any]any)
	if !ok || len(m) != 1 {
		return CompoundItem{}, fmt.Errorf("%w: want a Hash of one pair, got %s", ErrMalformed, typeName(v))
	}
	for k, val := range m {
		key, ok := keyString(k)
		if !ok {
			return CompoundItem{}, fmt.Errorf("%w: key %s", ErrMalformed, typeName(k))
		}
		kind := CompoundKind(key)
		switch kind {
		case And, Or, Not, LParen, RParen:
			return CompoundItem{Kind: kind}, nil
		case Statement:
			s, ok := val.(string)
			if !ok {
				return CompoundItem{}, fmt.Errorf("%w: statement: want a String, got %s", ErrMalformed, typeName(val))
			}
			return CompoundItem{Kind: kind, Value: s}, nil
		case FStatement:
			fm, ok := val.(map[any]any)
			if !ok {
				return CompoundItem{}, fmt.Errorf("%w: fstatement: want a Hash, got %s", ErrMalformed, typeName(val))
			}
			dc := &DataCall{}
			var err error
			if dc.Name, err = optString(fm, "name"); err != nil {
				return CompoundItem{}, err
			}
			if dc.Value, err = optString(fm, "value"); err != nil {
				return CompoundItem{}, err
			}
			if dc.Operator, err = optString(fm, "operator"); err != nil {
				return CompoundItem{}, err
			}
			dc.Params, _ = lookup(fm, "params")
			dc.RCompare, _ = lookup(fm, "r_compare")
			return CompoundItem{Kind: kind, Func: dc}, nil
		}
		return CompoundItem{}, fmt.Errorf("%w: unknown compound item %q", ErrMalformed, key)
	}
	return CompoundItem{}, fmt.Errorf("%w: empty compound item", ErrMalformed)
}

func keyString(k any) (string, bool) {
	switch s := k.(type) {
	case string:
		return s, true
	case marshal.Symbol:
		return string(s), true
	}
	return "", false
}

func list(m map[any]any, key string) ([]any, error) {
	v, ok := lookup(m, key)
	if !ok || v == nil {
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: filter %q: want an Array, got %s", ErrMalformed, key, typeName(v))
	}
	return l, nil
}

// stringList reads an Array of Strings. A Regexp entry, which Ruby clients send for
// --limit-nodes without direct addressing, becomes its "/source/" string form.
func stringList(m map[any]any, key string) ([]string, error) {
	l, err := list(m, key)
	if err != nil || len(l) == 0 {
		return nil, err
	}
	out := make([]string, 0, len(l))
	for i, e := range l {
		switch s := e.(type) {
		case string:
			out = append(out, s)
		case marshal.Symbol:
			out = append(out, string(s))
		case marshal.Regexp:
			out = append(out, "/"+s.Source+"/")
		default:
			return nil, fmt.Errorf("%w: filter %q entry %d: want a String, got %s", ErrMalformed, key, i, typeName(e))
		}
	}
	return out, nil
}

// scalarString reads a value that MCollective treats as a string but that may arrive as a
// number or boolean (fact filter values built by other clients).
func scalarString(m map[any]any, key string) (string, error) {
	v, _ := lookup(m, key)
	switch s := v.(type) {
	case nil:
		return "", nil
	case string:
		return s, nil
	case marshal.Symbol:
		return string(s), nil
	case int64, float64, bool:
		return fmt.Sprint(s), nil
	case marshal.Regexp:
		return "/" + s.Source + "/", nil
	}
	return "", fmt.Errorf("%w: :%s: want a String, got %s", ErrMalformed, key, typeName(v))
}

// toWire builds the filter Hash as Ruby clients send it: String top-level keys, Symbol keys
// inside fact entries, and String keys inside compound items.
func (f Filter) toWire() map[string]any {
	facts := make([]any, 0, len(f.Fact))
	for _, ff := range f.Fact {
		facts = append(facts, map[marshal.Symbol]any{"fact": ff.Fact, "value": ff.Value, "operator": ff.Operator})
	}
	compound := make([]any, 0, len(f.Compound))
	for _, expr := range f.Compound {
		items := make([]any, 0, len(expr))
		for _, it := range expr {
			switch it.Kind {
			case Statement:
				items = append(items, map[string]any{"statement": it.Value})
			case FStatement:
				dc := it.Func
				if dc == nil {
					dc = &DataCall{}
				}
				call := map[string]any{
					"name": dc.Name, "params": dc.Params,
					"operator": dc.Operator, "r_compare": dc.RCompare,
				}
				if dc.Value != "" { // a call with no output field carries no "value", as in Ruby
					call["value"] = dc.Value
				}
				items = append(items, map[string]any{"fstatement": call})
			default:
				items = append(items, map[string]any{string(it.Kind): string(it.Kind)})
			}
		}
		compound = append(compound, items)
	}
	return map[string]any{
		"fact":     facts,
		"cf_class": nonNil(f.CFClass),
		"agent":    nonNil(f.Agent),
		"identity": nonNil(f.Identity),
		"compound": compound,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
