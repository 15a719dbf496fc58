package ddl

import (
	"fmt"
	"strconv"
	"strings"
)

// RenderRuby renders an agent DDL in MCollective's Ruby DDL language, for stock mco 2.12
// clients: metadata, then each action (sorted by name) with its display preference, inputs,
// outputs and the aggregates stock MCollective ships (summary, average, sum). Aggregates of
// plugins stock MCollective lacks (nettest_mma, boolean_summary) are left out, since mco
// would fail to load them; the replies are the same without them.
//
// Validations become what stock MCollective can evaluate on the client: its own validators
// (shellsafe, ipv4address, ipv6address, the type names) stay symbols, plugin validators
// with a regular expression equivalent (service_name, package_name) become that expression,
// and the others (nettest_fqdn, the puppet ones) are left to the node, which checks every
// input against the DDL before anything runs. Strings are single-quoted and regular
// expressions built with Regexp.new, so no DDL text is ever evaluated as Ruby code.
func RenderRuby(a *Agent) string {
	var b strings.Builder
	writeRubyMetadata(&b, a.Metadata)
	for _, name := range sortedKeys(a.Actions) {
		act := a.Actions[name]
		fmt.Fprintf(&b, "action %s, :description => %s do\n", rubyLit(name), rubyLit(act.Description))
		switch act.Display {
		case "ok", "failed", "always":
			fmt.Fprintf(&b, "  display :%s\n", act.Display)
		}
		for _, k := range sortedKeys(act.Input) {
			writeRubyInput(&b, k, act.Input[k])
		}
		writeRubyOutputs(&b, act.Output)
		var aggs []string
		for _, ag := range act.Aggregate {
			switch ag.Function {
			case "summary", "average", "sum":
				s := fmt.Sprintf("    aggregate %s(%s", ag.Function, rubySymbol(ag.Output))
				if f, ok := ag.Args["format"]; ok {
					s += ", :format => " + rubyLit(f)
				}
				aggs = append(aggs, s+")\n")
			}
		}
		if len(aggs) > 0 {
			b.WriteString("  summarize do\n" + strings.Join(aggs, "") + "  end\n")
		}
		b.WriteString("end\n\n")
	}
	return b.String()
}

// RenderRubyData renders a data plugin DDL in MCollective's Ruby DDL language: metadata,
// then the dataquery with its query input, when the plugin takes one, and its outputs.
func RenderRubyData(d *Data) string {
	var b strings.Builder
	writeRubyMetadata(&b, d.Metadata)
	fmt.Fprintf(&b, "dataquery :description => %s do\n", rubyLit(d.Description))
	if d.Query != nil {
		writeRubyInput(&b, "query", d.Query)
	}
	writeRubyOutputs(&b, d.Output)
	b.WriteString("end\n")
	return b.String()
}

func writeRubyMetadata(b *strings.Builder, m Metadata) {
	fmt.Fprintf(b, "metadata :name => %s,\n         :description => %s,\n         :author => %s,\n         :license => %s,\n         :version => %s,\n         :url => %s,\n         :timeout => %d\n\n",
		rubyLit(m.DisplayNameOrName()), rubyLit(m.Description), rubyLit(m.Author), rubyLit(m.License), rubyLit(m.Version), rubyLit(m.URL), m.Timeout)
}

func writeRubyInput(b *strings.Builder, name string, in *Input) {
	fmt.Fprintf(b, "  input %s, :prompt => %s, :description => %s, :type => %s, :optional => %t",
		rubySymbol(name), rubyLit(in.Prompt), rubyLit(in.Description), rubySymbol(in.Type), in.Optional)
	switch in.Type {
	case "string":
		// Stock MCollective requires both for a string; a maxlength of 0 is no limit.
		fmt.Fprintf(b, ", :validation => %s, :maxlength => %d", rubyValidation(in.Validation), in.MaxLength)
	case "list":
		items := make([]any, len(in.List))
		for i, s := range in.List {
			items[i] = s
		}
		fmt.Fprintf(b, ", :list => %s", rubyLit(items))
	default:
		if in.MaxLength > 0 {
			fmt.Fprintf(b, ", :maxlength => %d", in.MaxLength)
		}
	}
	if in.Default != nil {
		fmt.Fprintf(b, ", :default => %s", rubyLit(in.Default))
	}
	b.WriteString("\n")
}

func writeRubyOutputs(b *strings.Builder, out map[string]*Output) {
	for _, k := range sortedKeys(out) {
		o := out[k]
		fmt.Fprintf(b, "  output %s, :description => %s, :display_as => %s, :default => %s\n",
			rubySymbol(k), rubyLit(o.Description), rubyLit(o.DisplayAs), rubyLit(o.Default))
	}
}

// stockValidators are the named validators stock MCollective 2.12 ships, and the type names
// its Validator.validate checks itself.
var stockValidators = map[string]bool{
	"shellsafe": true, "ipv4address": true, "ipv6address": true,
	"integer": true, "float": true, "number": true, "string": true, "boolean": true,
}

// validatorRegexps are the plugin validators that are exactly a regular expression, as Ruby
// Regexp sources: the same rules as serviceNameRE and packageNameRE.
var validatorRegexps = map[string]string{
	"service_name": `\A[a-zA-Z.\-_\d:@]+\z`,
	"package_name": `\A[a-zA-Z.\-_\d]+\z`,
}

// rubyValidation renders a DDL validation as the Ruby value of :validation.
func rubyValidation(v string) string {
	if v == "" {
		return "nil"
	}
	name := strings.TrimPrefix(v, ":")
	if stockValidators[name] && (name != v || namedValidators[name] != nil) {
		return rubySymbol(name)
	}
	if re, ok := validatorRegexps[name]; ok {
		return "Regexp.new(" + rubyLit(re) + ")"
	}
	if namedValidators[name] != nil || strings.HasPrefix(v, ":") {
		return "nil" // a plugin validator stock mco lacks: the node checks it
	}
	if len(v) >= 2 && v[0] == '/' {
		if end := strings.LastIndexByte(v, '/'); end > 0 {
			opts := 0
			valid := true
			for _, f := range v[end+1:] {
				switch f {
				case 'i':
					opts |= 1
				case 'x':
					opts |= 2
				case 'm':
					opts |= 4
				default:
					valid = false
				}
			}
			if valid {
				return fmt.Sprintf("Regexp.new(%s, %d)", rubyLit(v[1:end]), opts)
			}
		}
	}
	return rubyLit(v)
}

// rubySymbol renders name as a Ruby symbol, quoted unless it is a plain identifier.
func rubySymbol(name string) string {
	plain := name != ""
	for i, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			plain = false
		}
	}
	if plain {
		return ":" + name
	}
	return ":" + rubyLit(name)
}

// rubyLit renders a JSON-shaped value as a Ruby literal; strings are single-quoted, so
// nothing in them is interpolated.
func rubyLit(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(x) + "'"
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if x == float64(int64(x)) && x < 1e15 && x > -1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range sortedKeys(x) {
			parts = append(parts, rubyLit(k)+" => "+rubyLit(x[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, rubyLit(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return rubyLit(fmt.Sprint(v))
}
