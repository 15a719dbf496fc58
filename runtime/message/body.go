package message

import (
	"fmt"

	"github.com/mcorun/mcorun/runtime/marshal"
)

// DecodeBody decodes an envelope's inner Body. It is a String ("ping", "pong") for the
// discovery agent and a Hash for SimpleRPC.
func DecodeBody(b []byte) (any, error) {
	v, err := marshal.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	return v, nil
}

// EncodeBody encodes a discovery body such as "ping" or "pong".
func EncodeBody(v any) ([]byte, error) { return marshal.Marshal(v) }

// DecodeRPCRequest reads a SimpleRPC request body. Keys may be Symbols or Strings, as
// rpc/request.rb accepts both.
func DecodeRPCRequest(v any) (*RPCRequest, error) {
	m, ok := v.(map[any]any)
	if !ok {
		return nil, fmt.Errorf("%w: rpc request body: want a Hash, got %s", ErrMalformed, typeName(v))
	}
	r := &RPCRequest{ProcessResults: true}
	var err error
	if r.Agent, err = optString(m, "agent"); err != nil {
		return nil, err
	}
	if r.Action, err = optString(m, "action"); err != nil {
		return nil, err
	}
	if r.Caller, err = optString(m, "caller"); err != nil {
		return nil, err
	}
	r.Data = map[string]any{}
	if dv, ok := lookup(m, "data"); ok && dv != nil {
		dm, ok := dv.(map[any]any)
		if !ok {
			return nil, fmt.Errorf("%w: :data: want a Hash, got %s", ErrMalformed, typeName(dv))
		}
		for k, val := range dm {
			key, ok := keyString(k)
			if !ok {
				return nil, fmt.Errorf("%w: :data key: want a Symbol or String, got %s", ErrMalformed, typeName(k))
			}
			if key == "process_results" {
				if b, ok := val.(bool); ok {
					r.ProcessResults = b
				}
				continue
			}
			r.Data[key] = val
		}
	}
	return r, nil
}

// Encode writes a SimpleRPC request body with Symbol keys throughout, as mco does.
// process_results is added when ProcessResults is set, and sent as false otherwise.
func (r *RPCRequest) Encode() ([]byte, error) {
	data := make(map[marshal.Symbol]any, len(r.Data)+1)
	for k, v := range r.Data {
		data[marshal.Symbol(k)] = v
	}
	data["process_results"] = r.ProcessResults
	return marshal.Marshal(map[marshal.Symbol]any{
		"agent": r.Agent, "action": r.Action, "caller": r.Caller, "data": data,
	})
}

// Encode writes a SimpleRPC reply body: {:statuscode, :statusmsg, :data} with Symbol data keys.
func (r *RPCReply) Encode() ([]byte, error) {
	data := make(map[marshal.Symbol]any, len(r.Data))
	for k, v := range r.Data {
		data[marshal.Symbol(k)] = v
	}
	return marshal.Marshal(map[marshal.Symbol]any{
		"statuscode": int64(r.StatusCode), "statusmsg": r.StatusMsg, "data": data,
	})
}

// DecodeRPCReply reads a SimpleRPC reply body.
func DecodeRPCReply(v any) (*RPCReply, error) {
	m, ok := v.(map[any]any)
	if !ok {
		return nil, fmt.Errorf("%w: rpc reply body: want a Hash, got %s", ErrMalformed, typeName(v))
	}
	r := &RPCReply{Data: map[string]any{}}
	code, err := optInt(m, "statuscode")
	if err != nil {
		return nil, err
	}
	r.StatusCode = Status(code)
	if r.StatusMsg, err = optString(m, "statusmsg"); err != nil {
		return nil, err
	}
	if dv, ok := lookup(m, "data"); ok && dv != nil {
		dm, ok := dv.(map[any]any)
		if !ok {
			return nil, fmt.Errorf("%w: :data: want a Hash, got %s", ErrMalformed, typeName(dv))
		}
		for k, val := range dm {
			if key, ok := keyString(k); ok {
				r.Data[key] = val
			}
		}
	}
	return r, nil
}
