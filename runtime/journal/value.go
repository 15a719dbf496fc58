package journal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// floatKey tags a float in an encoded value: {"$float": "1"}. encoding/json writes 1.0 as 1,
// which would read back as an integer, and cannot write NaN or the infinities at all.
const floatKey = "$float"

// EncodeValue writes v, a value of value.Plain's types (nil, bool, string, int64 and the other
// Go integers, *big.Int, float64, []any, map[string]any), as JSON that DecodeValue reads back
// as the same types: floats are tagged so that they stay floats. A time.Duration (a call's
// arguments may hold one) is written as its text and reads back as a string. A Hash whose only key is
// "$float" reads back as a float; no reply data seen in practice has one.
func EncodeValue(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	if err := encodeValue(&b, v, 0); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func encodeValue(b *bytes.Buffer, v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("journal: value nested deeper than %d", maxDepth)
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case string:
		s, _ := json.Marshal(x)
		b.Write(s)
	case int:
		b.WriteString(strconv.Itoa(x))
	case int32:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case uint64:
		b.WriteString(strconv.FormatUint(x, 10))
	case *big.Int:
		if x == nil {
			b.WriteString("null")
		} else {
			b.WriteString(x.String())
		}
	case time.Duration:
		// call arguments only: compared, never read back, so its text is enough
		s, _ := json.Marshal(x.String())
		b.Write(s)
	case float64:
		b.WriteString(`{"` + floatKey + `":"` + strconv.FormatFloat(x, 'g', -1, 64) + `"}`)
	case []string:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			s, _ := json.Marshal(e)
			b.Write(s)
		}
		b.WriteByte(']')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := encodeValue(b, e, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			s, _ := json.Marshal(k)
			b.Write(s)
			b.WriteByte(':')
			if err := encodeValue(b, x[k], depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("journal: cannot record a value of type %T", v)
	}
	return nil
}

// maxDepth bounds the nesting of recorded values, as value.MaxDepth bounds reply data.
const maxDepth = 64

// DecodeValue reads a value EncodeValue wrote: numbers are int64 (a *big.Int beyond int64),
// tagged floats float64, arrays []any and objects map[string]any. It never panics.
func DecodeValue(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("journal: value: %w", err)
	}
	return typed(v, 0)
}

func typed(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("journal: value nested deeper than %d", maxDepth)
	}
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if strings.ContainsAny(s, ".eE") {
			return nil, fmt.Errorf("journal: value: untagged float %s", s)
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		n, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, fmt.Errorf("journal: value: bad number %q", s)
		}
		return n, nil
	case []any:
		for i, e := range x {
			t, err := typed(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = t
		}
		return x, nil
	case map[string]any:
		if len(x) == 1 {
			if s, ok := x[floatKey].(string); ok {
				f, err := strconv.ParseFloat(s, 64)
				if err != nil && !math.IsInf(f, 0) {
					return nil, fmt.Errorf("journal: value: bad float %q", s)
				}
				return f, nil
			}
		}
		for k, e := range x {
			t, err := typed(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[k] = t
		}
		return x, nil
	}
	return v, nil
}
