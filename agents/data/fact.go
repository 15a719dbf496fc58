package data

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/value"
)

// Fact is the fact data plugin: it walks a dotted path ("networking.interfaces.eth0.ip",
// "processors.models.0") into structured facts. Outputs are exists, value and value_encoding:
// "text/plain" for a scalar, "application/json" with the value JSON-encoded for a hash or an
// array, and false for all three when the path does not resolve.
func Fact(facts func() map[string]any) *agent.DataPlugin {
	return &agent.DataPlugin{DDL: mustDDL("fact"), Query: func(_ context.Context, q any) (map[string]any, error) {
		path, _ := q.(string)
		return walkFact(facts(), path)
	}}
}

func walkFact(facts map[string]any, path string) (map[string]any, error) {
	out := map[string]any{"exists": false, "value": false, "value_encoding": false}
	var cur any = facts
	for _, level := range rubySplitDots(path) {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[level]
			if !ok {
				return out, nil
			}
			cur = v
		case map[any]any:
			v, ok := c[level]
			if !ok {
				return out, nil
			}
			cur = v
		default:
			rv := reflect.ValueOf(cur)
			if cur == nil || rv.Kind() != reflect.Slice {
				return out, nil // not a container: cannot walk into it
			}
			i, err := strconv.ParseInt(strings.TrimSpace(level), 0, 64)
			if err != nil {
				return nil, fmt.Errorf("invalid value for Integer(): %q", level)
			}
			if i < 0 {
				i += int64(rv.Len()) // Ruby counts negative indexes from the end
			}
			if i < 0 || i >= int64(rv.Len()) {
				return out, nil
			}
			cur = rv.Index(int(i)).Interface()
		}
	}
	out["exists"] = true
	switch v := cur.(type) {
	case string, bool, int, int64, float64:
		out["value"] = v
		out["value_encoding"] = "text/plain"
	case nil:
		return nil, fmt.Errorf("Can only store String, Integer, Float or Boolean data but got NilClass for key value")
	default:
		b, err := toJSON(v)
		if err != nil {
			return nil, fmt.Errorf("fact %s: %w", path, err)
		}
		out["value"] = b
		out["value_encoding"] = "application/json"
	}
	return out, nil
}

// rubySplitDots splits like Ruby's String#split(/\./): trailing empty fields are dropped.
func rubySplitDots(s string) []string {
	parts := strings.Split(s, ".")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// toJSON encodes a fact as compact JSON without HTML escaping, as Ruby's to_json does, after
// the reply normaliser (value.JSON): Hash keys are text, Symbols strings.
func toJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(value.JSON(v)); err != nil {
		return "", fmt.Errorf("encode json: %w", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}
