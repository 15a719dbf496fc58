package ddl

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/mcorun/mcorun/runtime/message"
)

func testAgent(t *testing.T) *Agent {
	t.Helper()
	a, err := ParseAgent([]byte(`{
  "metadata": {"name": "test", "timeout": 10},
  "actions": {
    "run": {
      "description": "run",
      "input": {
        "cmd":   {"prompt": "c", "description": "c", "type": "string", "validation": ":shellsafe", "optional": false, "maxlength": 10},
        "ip4":   {"prompt": "i", "description": "i", "type": "string", "validation": "ipv4address", "optional": true, "maxlength": 0},
        "ip6":   {"prompt": "i", "description": "i", "type": "string", "validation": ":ipv6address", "optional": true, "maxlength": 0},
        "hex":   {"prompt": "h", "description": "h", "type": "string", "validation": "\\A\\h+\\Z", "optional": true, "maxlength": 0},
        "lit":   {"prompt": "l", "description": "l", "type": "string", "validation": "/^a+$/i", "optional": true, "maxlength": 0},
        "mode":  {"prompt": "m", "description": "m", "type": "list", "list": ["fast", "slow"], "optional": true},
        "n":     {"prompt": "n", "description": "n", "type": "integer", "optional": true, "default": 3},
        "f":     {"prompt": "f", "description": "f", "type": "float", "optional": true},
        "num":   {"prompt": "n", "description": "n", "type": "number", "optional": true},
        "b":     {"prompt": "b", "description": "b", "type": "boolean", "optional": true},
        "h":     {"prompt": "h", "description": "h", "type": "hash", "optional": true},
        "arr":   {"prompt": "a", "description": "a", "type": "array", "optional": true},
        "force": {"prompt": "f", "description": "f", "type": "boolean", "optional": false, "default": false}
      },
      "output": {
        "status": {"description": "s", "display_as": "S", "default": 0},
        "out":    {"description": "o", "display_as": "O", "default": "unknown"},
        "list":   {"description": "l", "display_as": "L", "default": [1, "x"]},
        "none":   {"description": "n", "display_as": "N"}
      }
    }
  }
}`))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestValidate(t *testing.T) {
	a := testAgent(t)
	rpcutil, err := Builtin("rpcutil")
	if err != nil {
		t.Fatal(err)
	}
	base := func(kv ...any) map[string]any {
		m := map[string]any{"cmd": "ls", "force": true}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		agent  *Agent
		action string
		data   map[string]any
		want   string // "" means valid
	}{
		{"ok", a, "run", base(), ""},
		{"undeclared action", rpcutil, "nosuch", nil, "Attempted to call action nosuch for rpcutil but it's not declared in the DDL"},
		{"missing required", rpcutil, "get_fact", map[string]any{}, "Action get_fact needs a fact argument"},
		{"get_fact ok", rpcutil, "get_fact", map[string]any{"fact": "os.family"}, ""},
		{"regex", rpcutil, "get_fact", map[string]any{"fact": "a b"}, `Cannot validate input fact: value should match ^[\w\-\.]+$`},
		{"ruby line anchors", rpcutil, "get_fact", map[string]any{"fact": "ok\n;x"}, ""},
		{"maxlength", rpcutil, "get_fact", map[string]any{"fact": strings.Repeat("a", 41)}, "Cannot validate input fact: Input string is longer than 40 character(s)"},
		{"maxlength runes", rpcutil, "get_config_item", map[string]any{"item": strings.Repeat("é", 50)}, ""},
		{"not a string", rpcutil, "get_fact", map[string]any{"fact": int64(1)}, "Cannot validate input fact: value should be a string"},
		{"nil string", rpcutil, "get_fact", map[string]any{"fact": nil}, "Cannot validate input fact: value should be a string"},
		{"get_facts list", rpcutil, "get_facts", map[string]any{"facts": " a, b.c ,d"}, ""},
		{"get_data optional", rpcutil, "get_data", map[string]any{"source": "fstat"}, ""},
		{"shellsafe", a, "run", base("cmd", "a;b"), "Cannot validate input cmd: value should not have ; in it"},
		{"shellsafe &&", a, "run", base("cmd", "a&&b"), "Cannot validate input cmd: value should not have && in it"},
		{"shellsafe single &", a, "run", base("cmd", "a&b"), ""},
		{"ipv4", a, "run", base("ip4", "10.0.0.1"), ""},
		{"ipv4 cidr", a, "run", base("ip4", "10.0.0.0/8"), ""},
		{"ipv4 bad", a, "run", base("ip4", "::1"), "Cannot validate input ip4: value should be an ipv4 address"},
		{"ipv6", a, "run", base("ip6", "fe80::1"), ""},
		{"ipv6 bad", a, "run", base("ip6", "10.0.0.1"), "Cannot validate input ip6: value should be an ipv6 address"},
		{"ruby escapes", a, "run", base("hex", "dEadBeef"), ""},
		{"ruby escapes bad", a, "run", base("hex", "xyz"), `Cannot validate input hex: value should match \A\h+\Z`},
		{"regexp literal", a, "run", base("lit", "AaA"), ""},
		{"regexp literal bad", a, "run", base("lit", "b"), "Cannot validate input lit: value should match (?i-mx:^a+$)"},
		{"list", a, "run", base("mode", "fast"), ""},
		{"list bad", a, "run", base("mode", "medium"), "Cannot validate input mode: value should be one of fast, slow"},
		{"integer", a, "run", base("n", int64(5)), ""},
		{"bignum", a, "run", base("n", new(big.Int).Lsh(big.NewInt(1), 70)), ""},
		{"integer bad", a, "run", base("n", 1.5), "Cannot validate input n: value should be a integer"},
		{"float", a, "run", base("f", 1.5), ""},
		{"float bad", a, "run", base("f", int64(1)), "Cannot validate input f: value should be a float"},
		{"number int", a, "run", base("num", int64(1)), ""},
		{"number float", a, "run", base("num", 2.5), ""},
		{"number bad", a, "run", base("num", "1"), "Cannot validate input num: value should be a number"},
		{"boolean", a, "run", base("b", false), ""},
		{"boolean bad", a, "run", base("b", "true"), "Cannot validate input b: value should be a boolean"},
		{"hash", a, "run", base("h", map[any]any{"a": 1}), ""},
		{"hash bad", a, "run", base("h", []any{}), "Cannot validate input h: value should be a hash"},
		{"array", a, "run", base("arr", []any{1}), ""},
		{"array bad", a, "run", base("arr", "x"), "Cannot validate input arr: value should be a array"},
		{"required with default still required", a, "run", map[string]any{"cmd": "ls"}, "Action run needs a force argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.agent.Validate(tt.action, tt.data)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want *ValidationError", err)
			}
			if ve.Status != message.InvalidData {
				t.Errorf("status = %v, want InvalidData", ve.Status)
			}
			if ve.Error() != tt.want {
				t.Errorf("message = %q, want %q", ve.Error(), tt.want)
			}
		})
	}
}

func TestValidateQuery(t *testing.T) {
	fstat, err := BuiltinData("fstat_data")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		query any
		want  string
	}{
		{"ok", "/etc/hosts", ""},
		{"nil", nil, "Cannot validate input query: value should be a string"},
		{"empty", "", "Cannot validate input query: value should match (?-mix:.+)"},
		{"long", strings.Repeat("x", 121), "Cannot validate input query: Input string is longer than 120 character(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fstat.ValidateQuery(tt.query)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || err.Error() != tt.want) {
				t.Errorf("ValidateQuery(%q) = %v, want %q", tt.query, err, tt.want)
			}
		})
	}
}

func TestCompileValidationErrors(t *testing.T) {
	for _, v := range []string{"(?>atomic)", "/a/x", "[unclosed"} {
		t.Run(v, func(t *testing.T) {
			if _, err := compileValidation(v); err == nil {
				t.Errorf("compileValidation(%q) succeeded", v)
			}
		})
	}
}

func TestPluginValidators(t *testing.T) {
	for _, tc := range []struct {
		validator, value string
		ok               bool
	}{
		{"service_name", "nginx", true},
		{"service_name", "getty@tty1.service", true},
		{"service_name", "a:b_c-d.e", true},
		{"service_name", "nginx; rm -rf /", false},
		{"service_name", "nginx\n", false},
		{"service_name", "", false},
		{"service_name", "$(id)", false},
		{"package_name", "libc6", true},
		{"package_name", "python3.11-dev", true},
		{"package_name", "a_b", true},
		{"package_name", "vim&&id", false},
		{"package_name", "pkg:1", false},
		{"package_name", "pkg name", false},
	} {
		err := namedValidators[tc.validator](tc.value)
		if (err == nil) != tc.ok {
			t.Errorf("%s(%q) = %v, want ok %v", tc.validator, tc.value, err, tc.ok)
		}
	}
}
