package ddl

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/mcorun/mcorun/runtime/message"
)

// ValidationError is a request that fails its DDL: an undeclared action, a missing required
// input or an input that does not validate. Msg is MCollective's own text, which the server
// sends back as the reply's statusmsg with Status as its statuscode.
type ValidationError struct {
	Status message.Status
	Msg    string
}

// Error returns the MCollective message.
func (e *ValidationError) Error() string { return e.Msg }

func invalid(format string, args ...any) *ValidationError {
	return &ValidationError{Status: message.InvalidData, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks a request's inputs against the DDL as MCollective's server does
// (DDL::AgentDDL#validate_rpc_request): the action must be declared, every required input
// present, and every present input valid for its type, maxlength and validation. It returns a
// *ValidationError with status InvalidData. Inputs are checked in name order.
func (a *Agent) Validate(action string, data map[string]any) error {
	act, ok := a.Actions[action]
	if !ok {
		return invalid("Attempted to call action %s for %s but it's not declared in the DDL", action, a.Metadata.Name)
	}
	for _, key := range sortedKeys(act.Input) {
		in := act.Input[key]
		v, present := data[key]
		if !present {
			if !in.Optional {
				return invalid("Action %s needs a %s argument", action, key)
			}
			continue
		}
		if err := in.Validate(key, v); err != nil {
			return err
		}
	}
	return nil
}

// ValidateQuery checks a data plugin query as MCollective's Data.ddl_validate does: a nil
// query passes only when the input is optional; a plugin that takes no input rejects one.
func (d *Data) ValidateQuery(query any) error {
	if d.Query == nil {
		if query != nil {
			return fmt.Errorf("No data plugin argument was declared in the %s DDL but an input was supplied", d.Metadata.DisplayNameOrName())
		}
		return nil
	}
	if query == nil && d.Query.Optional {
		return nil
	}
	return d.Query.Validate("query", query)
}

// DisplayNameOrName returns DisplayName, or Name when there is none: the name MCollective's
// metadata carries.
func (m Metadata) DisplayNameOrName() string {
	if m.DisplayName != "" {
		return m.DisplayName
	}
	return m.Name
}

// Validate checks one input value named key as DDL::Base#validate_input_argument does and
// returns a *ValidationError reading "Cannot validate input KEY: REASON".
func (in *Input) Validate(key string, v any) error {
	if err := in.check(v); err != nil {
		return invalid("Cannot validate input %s: %s", key, err.Error())
	}
	return nil
}

func (in *Input) check(v any) error {
	switch in.Type {
	case "string":
		if err := typecheck(v, "string"); err != nil {
			return err
		}
		s := v.(string)
		if n := utf8.RuneCountInString(s); in.MaxLength > 0 && n > in.MaxLength {
			return fmt.Errorf("Input string is longer than %d character(s)", in.MaxLength)
		}
		return validateWith(s, in.Validation)
	case "list":
		for _, allowed := range in.List {
			if s, ok := v.(string); ok && s == allowed {
				return nil
			}
		}
		return fmt.Errorf("value should be one of %s", strings.Join(in.List, ", "))
	default:
		return typecheck(v, in.Type)
	}
}

// typecheck is MCollective's typecheck validator. hash and array are this project's
// additions: MCollective 2.12 has no working check for them.
func typecheck(v any, typ string) error {
	ok := false
	switch typ {
	case "string":
		_, ok = v.(string)
	case "integer":
		ok = isInteger(v)
	case "float":
		ok = isFloat(v)
	case "number":
		ok = isInteger(v) || isFloat(v)
	case "boolean":
		_, ok = v.(bool)
	case "hash":
		ok = v != nil && reflect.TypeOf(v).Kind() == reflect.Map
	case "array":
		ok = v != nil && reflect.TypeOf(v).Kind() == reflect.Slice
	}
	if !ok {
		return fmt.Errorf("value should be a %s", typ)
	}
	return nil
}

func isInteger(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, *big.Int:
		return true
	}
	return false
}

func isFloat(v any) bool {
	switch v.(type) {
	case float32, float64:
		return true
	}
	return false
}

// namedValidators are the validators a DDL may name instead of giving a regular expression,
// written ":shellsafe" or "shellsafe".
var namedValidators = map[string]func(s string) error{
	"shellsafe":   shellsafe,
	"ipv4address": func(s string) error { return ipaddress(s, true) },
	"ipv6address": func(s string) error { return ipaddress(s, false) },

	"puppet_tags":           puppetTags,
	"puppet_variable":       puppetVariable,
	"puppet_server_address": puppetServerAddress,

	"service_name": serviceName,
	"package_name": packageName,

	"nettest_fqdn": nettestFQDN,
}

// validateWith applies a DDL validation to a string: empty passes, a validator name
// (shellsafe, ipv4address, ipv6address, or a type name such as :integer) runs that
// validator, "/re/flags" is a Ruby Regexp literal and anything else a Ruby regexp source.
func validateWith(s, validation string) error {
	if validation == "" {
		return nil
	}
	name := strings.TrimPrefix(validation, ":")
	if f, ok := namedValidators[name]; ok {
		return f(s)
	}
	if strings.HasPrefix(validation, ":") {
		switch name {
		case "integer", "float", "number", "string", "boolean":
			return typecheck(s, name)
		}
		return fmt.Errorf("Unknown validator: '%s'.", name)
	}
	rv, err := compileValidation(validation)
	if err != nil {
		return err
	}
	if !rv.re.MatchString(s) {
		return fmt.Errorf("value should match %s", rv.text)
	}
	return nil
}

// shellsafe is MCollective's shellsafe validator.
func shellsafe(s string) error {
	for _, chr := range []string{"`", "$", ";", "|", "&&", ">", "<"} {
		if strings.Contains(s, chr) {
			return fmt.Errorf("value should not have %s in it", chr)
		}
	}
	return nil
}

// ipaddress is MCollective's ipv4address and ipv6address validators. Like Ruby's IPAddr it
// accepts a prefix length or netmask after a slash and brackets around an IPv6 address.
func ipaddress(s string, v4 bool) error {
	want := "ipv6"
	if v4 {
		want = "ipv4"
	}
	bad := fmt.Errorf("value should be an %s address", want)
	addr, _, _ := strings.Cut(s, "/")
	if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		addr = addr[1 : len(addr)-1]
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil || ip.Is4() != v4 {
		return bad
	}
	return nil
}

// rubyRegexp is a DDL validation compiled for Go, with the text MCollective's message shows.
type rubyRegexp struct {
	re   *regexp.Regexp
	text string
}

// compileValidation compiles a validation regexp written in Ruby syntax. Ruby's ^ and $
// always match at line boundaries, so the Go pattern runs in multi-line mode; Ruby's /m
// (dot matches newline) becomes Go's s flag; \h and \Z are translated.
func compileValidation(v string) (rubyRegexp, error) {
	src, flags, text := v, "", v
	if len(v) >= 2 && v[0] == '/' {
		end := strings.LastIndexByte(v, '/')
		if end > 0 {
			src, flags = v[1:end], v[end+1:]
			on, off := "", ""
			for _, f := range "mix" {
				if strings.ContainsRune(flags, f) {
					on += string(f)
				} else {
					off += string(f)
				}
			}
			if off != "" {
				off = "-" + off
			}
			text = "(?" + on + off + ":" + src + ")"
		}
	}
	goFlags := "m"
	for _, f := range flags {
		switch f {
		case 'i':
			goFlags += "i"
		case 'm':
			goFlags += "s"
		case 'x':
			return rubyRegexp{}, fmt.Errorf("validation %s: extended regexps are not supported", v)
		default:
			return rubyRegexp{}, fmt.Errorf("validation %s: unknown regexp flag %q", v, f)
		}
	}
	re, err := regexp.Compile("(?" + goFlags + ")" + translateRuby(src))
	if err != nil {
		return rubyRegexp{}, fmt.Errorf("validation %s: %w", v, errors.Unwrap(err))
	}
	return rubyRegexp{re: re, text: text}, nil
}

// translateRuby rewrites the Ruby-only escapes \h, \H and \Z into RE2 syntax.
func translateRuby(src string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\\' && i+1 < len(src) {
			n := src[i+1]
			i++
			switch {
			case n == 'h' && inClass:
				b.WriteString("0-9a-fA-F")
			case n == 'h':
				b.WriteString("[0-9a-fA-F]")
			case n == 'H' && !inClass:
				b.WriteString("[^0-9a-fA-F]")
			case n == 'Z' && !inClass:
				b.WriteString(`(?:\n?\z)`)
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			continue
		}
		switch c {
		case '[':
			inClass = true
		case ']':
			inClass = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
