package message

import (
	"errors"
	"fmt"

	"github.com/mcorun/mcorun/runtime/marshal"
)

// ErrMalformed marks an envelope or body that decoded as Marshal but does not have the shape
// MCollective gives it.
var ErrMalformed = errors.New("malformed message")

// DecodeRequest decodes a request envelope from the bytes of a STOMP MESSAGE body.
func DecodeRequest(b []byte) (*Request, error) {
	m, err := decodeEnvelope(b, "request")
	if err != nil {
		return nil, err
	}
	r := &Request{}
	if r.Body, err = decodeStrings(m,
		strField{"senderid", &r.SenderID}, strField{"requestid", &r.RequestID}, strField{"collective", &r.Collective},
		strField{"agent", &r.Agent}, strField{"callerid", &r.CallerID}, strField{"hash", &r.Hash},
	); err != nil {
		return nil, err
	}
	if r.TTL, err = optInt(m, "ttl"); err != nil {
		return nil, err
	}
	if r.MsgTime, err = optInt(m, "msgtime"); err != nil {
		return nil, err
	}
	if fv, ok := m[marshal.Symbol("filter")]; ok && fv != nil {
		if r.Filter, err = decodeFilter(fv); err != nil {
			return nil, err
		}
	}
	if r.Targets, err = targetList(m); err != nil {
		return nil, err
	}
	return r, nil
}

// Encode encodes the request envelope as Ruby Marshal, with Symbol keys.
func (r *Request) Encode() ([]byte, error) {
	m := map[marshal.Symbol]any{
		"body":       marshal.Binary(r.Body),
		"senderid":   r.SenderID,
		"requestid":  r.RequestID,
		"filter":     r.Filter.toWire(),
		"collective": r.Collective,
		"agent":      r.Agent,
		"callerid":   r.CallerID,
		"ttl":        r.TTL,
		"msgtime":    r.MsgTime,
	}
	if r.Hash != "" {
		m["hash"] = r.Hash
	}
	if len(r.Targets) > 0 {
		m[targetsKey] = r.Targets
	}
	return marshal.Marshal(m)
}

// targetsKey is the envelope key of Request.Targets, an mcorun addition that Ruby ignores.
const targetsKey = "mcorun_targets"

// targetList reads the optional :mcorun_targets Array of Strings; absent, nil and empty all
// mean no target list (a broadcast).
func targetList(m map[any]any) ([]string, error) {
	v, ok := lookup(m, targetsKey)
	if !ok || v == nil {
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: :%s: want an Array, got %s", ErrMalformed, targetsKey, typeName(v))
	}
	if len(l) == 0 {
		return nil, nil
	}
	out := make([]string, len(l))
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%w: :%s entry %d: want a String, got %s", ErrMalformed, targetsKey, i, typeName(e))
		}
		out[i] = s
	}
	return out, nil
}

// DecodeReply decodes a reply envelope from the bytes of a STOMP MESSAGE body.
func DecodeReply(b []byte) (*Reply, error) {
	m, err := decodeEnvelope(b, "reply")
	if err != nil {
		return nil, err
	}
	r := &Reply{}
	if r.Body, err = decodeStrings(m,
		strField{"senderid", &r.SenderID}, strField{"requestid", &r.RequestID},
		strField{"senderagent", &r.SenderAgent}, strField{"hash", &r.Hash},
	); err != nil {
		return nil, err
	}
	if r.MsgTime, err = optInt(m, "msgtime"); err != nil {
		return nil, err
	}
	return r, nil
}

// Encode encodes the reply envelope as Ruby Marshal, with Symbol keys.
func (r *Reply) Encode() ([]byte, error) {
	m := map[marshal.Symbol]any{
		"senderid":    r.SenderID,
		"requestid":   r.RequestID,
		"senderagent": r.SenderAgent,
		"msgtime":     r.MsgTime,
		"body":        marshal.Binary(r.Body),
	}
	if r.Hash != "" {
		m["hash"] = r.Hash
	}
	return marshal.Marshal(m)
}

// strField is an optional String field of an envelope and where its value goes.
type strField struct {
	key string
	dst *string
}

// decodeStrings reads the envelope's optional String fields in order, then its body; the
// first field that is not a String is the error.
func decodeStrings(m map[any]any, fields ...strField) (body []byte, err error) {
	for _, f := range fields {
		if *f.dst, err = optString(m, f.key); err != nil {
			return nil, err
		}
	}
	b, err := optString(m, "body")
	if err != nil {
		return nil, err
	}
	return []byte(b), nil
}

func decodeEnvelope(b []byte, what string) (map[any]any, error) {
	v, err := marshal.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("%s envelope: %w", what, err)
	}
	m, ok := v.(map[any]any)
	if !ok {
		return nil, fmt.Errorf("%s envelope: %w: want a Hash, got %s", what, ErrMalformed, typeName(v))
	}
	return m, nil
}

// lookup finds key as a Symbol, then as a String, as MCollective's readers tolerate both.
func lookup(m map[any]any, key string) (any, bool) {
	if v, ok := m[marshal.Symbol(key)]; ok {
		return v, true
	}
	v, ok := m[key]
	return v, ok
}

func optString(m map[any]any, key string) (string, error) {
	v, ok := lookup(m, key)
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: :%s: want a String, got %s", ErrMalformed, key, typeName(v))
	}
	return s, nil
}

func optInt(m map[any]any, key string) (int64, error) {
	v, ok := lookup(m, key)
	if !ok || v == nil {
		return 0, nil
	}
	switch n := v.(type) {
	case int64:
		return n, nil
	case float64:
		// Go's conversion of a NaN, an infinity or a float beyond the int64 range is
		// implementation-defined, so such a value is malformed rather than some number.
		if !(n > -(1<<63) && n < 1<<63) {
			return 0, fmt.Errorf("%w: :%s: Float %g is not an integer in range", ErrMalformed, key, n)
		}
		return int64(n), nil
	}
	return 0, fmt.Errorf("%w: :%s: want an Integer, got %s", ErrMalformed, key, typeName(v))
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case bool:
		return "a Boolean"
	case int64:
		return "an Integer"
	case float64:
		return "a Float"
	case string:
		return "a String"
	case marshal.Symbol:
		return "a Symbol"
	case []any:
		return "an Array"
	case map[any]any:
		return "a Hash"
	case marshal.Regexp:
		return "a Regexp"
	}
	return fmt.Sprintf("%T", v)
}
