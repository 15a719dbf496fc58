package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

// aggregate is one computed aggregate summary of an action's output, as mco prints it
// under "Summary of ...".
type aggregate struct {
	Function  string         `json:"function"`
	Output    string         `json:"output"`
	DisplayAs string         `json:"display_as"`
	Counts    []aggregateBin `json:"counts,omitempty"` // summary and boolean_summary
	Value     *float64       `json:"value,omitempty"`  // average and sum
	Lines     []string       `json:"-"`                // the rendered summary; empty when none could be computed
	Error     string         `json:"error,omitempty"`  // why it could not be computed
}

// aggregateBin is one value of a summary and how many nodes returned it.
type aggregateBin struct {
	Value any `json:"value"`
	Count int `json:"count"`
}

// computeAggregates runs the action's aggregate functions over the replies with status 0
// or 1, as MCollective does, client-side. The summaries come in mco's order: sorted by
// output name (aggregates of one output in DDL order), then those that could not be set up
// (an output the action does not declare, an unknown function) in DDL order.
func computeAggregates(act *ddl.Action, replies []client.Result) []aggregate {
	if act == nil {
		return nil
	}
	var used []client.Result
	for _, r := range replies {
		if r.Code == message.OK || r.Code == message.Aborted {
			used = append(used, r)
		}
	}
	sort.Slice(used, func(i, j int) bool { return used[i].Sender < used[j].Sender })
	var out, failed []aggregate
	for _, spec := range act.Aggregate {
		a := aggregate{Function: spec.Function, Output: spec.Output, DisplayAs: spec.Output}
		out1, ok := act.Output[spec.Output]
		if !ok {
			a.Error = fmt.Sprintf("unspecified output '%s' for the action", spec.Output)
			failed = append(failed, a)
			continue
		}
		if out1.DisplayAs != "" {
			a.DisplayAs = out1.DisplayAs
		}
		format, _ := spec.Args["format"].(string)
		var values []any
		for _, r := range used {
			values = append(values, r.Data[spec.Output])
		}
		switch spec.Function {
		case "summary":
			a.summarize(values, format, nil)
		case "boolean_summary":
			a.summarize(values, format, spec.Args)
		case "average", "sum":
			a.numeric(values, format)
		default:
			a.Error = fmt.Sprintf("unknown aggregate function %q", spec.Function)
			failed = append(failed, a)
			continue
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Output < out[j].Output })
	return append(out, failed...)
}

// summarize counts each distinct value (each element of an array value). labels, for
// boolean_summary, renames true and false.
func (a *aggregate) summarize(values []any, format string, labels map[string]any) {
	counts := map[string]*aggregateBin{}
	hasNil := false
	for _, v := range values {
		items := []any{v}
		if list, ok := v.([]any); ok {
			items = list
		}
		for _, x := range items {
			if x == nil {
				hasNil = true
			}
			if b, ok := x.(bool); ok && labels != nil {
				if l, ok := labels[fmt.Sprint(b)]; ok {
					x = l
				}
			}
			key := rubyString(x)
			if counts[key] == nil {
				counts[key] = &aggregateBin{Value: x}
			}
			counts[key].Count++
		}
	}
	keys := make([]string, 0, len(counts))
	width := 0
	for k := range counts {
		keys = append(keys, k)
		width = max(width, len(k))
	}
	sort.Slice(keys, func(i, j int) bool {
		ci, cj := counts[keys[i]].Count, counts[keys[j]].Count
		if ci != cj {
			return ci > cj
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		a.Counts = append(a.Counts, *counts[k])
	}
	if hasNil {
		return // MCollective computes no summary when a value is missing
	}
	if format == "" {
		format = fmt.Sprintf("%%%ds = %%s", width)
	}
	for _, k := range keys {
		a.Lines = append(a.Lines, rubyFormat(format, k, counts[k].Count))
	}
}

// numeric computes average or sum. As in Ruby, the average of integers is an integer.
func (a *aggregate) numeric(values []any, format string) {
	var sum float64
	allInt := true
	for _, v := range values {
		f, ok := toFloat(v)
		if !ok {
			a.Error = "exception raised while processing result data"
			return
		}
		allInt = allInt && isInteger(v)
		sum += f
	}
	value := sum
	if a.Function == "average" {
		if len(values) == 0 {
			a.Error = "exception raised while summarizing"
			return
		}
		value = sum / float64(len(values))
		if allInt {
			value = float64(int64(sum) / int64(len(values)))
		}
	}
	a.Value = &value
	if format == "" {
		name := "Average"
		if a.Function == "sum" {
			name = "Sum"
		}
		format = name + " of " + a.Output + ": %f"
	}
	a.Lines = []string{rubyFormat(format, value)}
}

// text renders the aggregate as mco's "Summary of" block.
func (a aggregate) text(c colorizer) string {
	var b strings.Builder
	if a.Error != "" {
		fmt.Fprintf(&b, "%s\n\n%s\n\n", c.bold("Summary of "+a.Output+":"), c.yellow("     Could not compute summary - "+a.Error))
		return b.String()
	}
	fmt.Fprintf(&b, "%s\n\n", c.bold("Summary of "+a.DisplayAs+":"))
	if len(a.Lines) == 0 {
		b.WriteString(c.yellow("     No aggregate summary could be computed") + "\n")
	} else {
		for _, l := range a.Lines {
			b.WriteString("   " + l + "\n")
		}
	}
	b.WriteString("\n")
	return b.String()
}

var verbRE = regexp.MustCompile(`%[-+ #0]*\d*(?:\.\d+)?([a-zA-Z%])`)

// rubyFormat applies a Ruby format string (as an aggregate's format argument is written) to
// args, converting each argument to what its verb expects.
func rubyFormat(format string, args ...any) string {
	i := 0
	out := verbRE.ReplaceAllStringFunc(format, func(verb string) string {
		conv := verb[len(verb)-1]
		if conv == '%' {
			return "%"
		}
		if i >= len(args) {
			return verb
		}
		arg := args[i]
		i++
		switch conv {
		case 'd', 'i', 'u':
			f, _ := toFloat(arg)
			return fmt.Sprintf(verb[:len(verb)-1]+"d", int64(f))
		case 'f', 'e', 'g', 'E', 'G':
			f, _ := toFloat(arg)
			return fmt.Sprintf(verb, f)
		}
		return fmt.Sprintf(verb[:len(verb)-1]+"s", rubyString(arg))
	})
	return out
}
