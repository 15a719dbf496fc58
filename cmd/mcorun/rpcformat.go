package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
)

// displayMode decides which replies are printed: "always", "ok" or "failed" (mco's default).
func displayMode(act *ddl.Action, force string) string {
	switch force {
	case "all", "always":
		return "always"
	case "ok", "failed":
		return force
	}
	if act != nil && act.Display != "" {
		return act.Display
	}
	return "failed"
}

// statusText is mco's word for a non-OK status.
func statusText(c colorizer, code message.Status) string {
	switch code {
	case message.OK:
		return ""
	case message.Aborted:
		return c.red("Request Aborted")
	case message.UnknownAction:
		return c.yellow("Unknown Action")
	case message.MissingData:
		return c.yellow("Missing Request Data")
	case message.InvalidData:
		return c.yellow("Invalid Request Data")
	}
	return c.red("Unknown Request Status")
}

// formatReplies renders the per-node block of mco rpc: each reply the display mode selects,
// with the outputs under their display names.
func formatReplies(c colorizer, act *ddl.Action, replies []client.Result, mode string) string {
	var b strings.Builder
	for _, r := range replies {
		switch mode {
		case "ok":
			if r.Code != message.OK {
				continue
			}
		case "failed":
			if r.Code == message.OK {
				continue
			}
		}
		b.WriteString(formatResult(c, act, r))
	}
	return b.String()
}

// formatResult is mco's text_for_result.
func formatResult(c colorizer, act *ddl.Action, r client.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-40s %s\n", r.Sender, statusText(c, r.Code))
	if r.Message != "OK" {
		fmt.Fprintf(&b, "   %s\n", c.yellow(r.Message))
	}
	if r.Code == message.OK && len(r.Data) > 0 {
		keys := make([]string, 0, len(r.Data))
		width := 0
		for k := range r.Data {
			keys = append(keys, k)
			width = max(width, len(displayAs(act, k)))
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := displayAs(act, k)
			padding := width - len(name) + 3
			b.WriteString(strings.Repeat(" ", padding) + name + ":")
			v := r.Data[k]
			switch v.(type) {
			case string, int, int64, float64, json.Number:
				text := strings.TrimRight(rubyString(v), "\n")
				lines := strings.Split(text, "\n")
				if text == "" {
					b.WriteString("\n")
					continue
				}
				for i, line := range lines {
					pad := " "
					if i > 0 {
						pad = strings.Repeat(" ", padding+len(name)+2)
					}
					b.WriteString(pad + line + "\n")
				}
			default:
				b.WriteString(" " + rubyInspect(v) + "\n")
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}

func displayAs(act *ddl.Action, key string) string {
	if act != nil {
		if o, ok := act.Output[key]; ok && o.DisplayAs != "" {
			return o.DisplayAs
		}
	}
	return key
}

// formatStats is mco's printrpcstats summary: the aggregates, "Finished processing" and the
// "No response from" list. Missing nodes with a reason (client.Results.Reasons) are listed
// apart, under it.
func formatStats(c colorizer, aggs []aggregate, responses, discovered int, agentTime time.Duration, missing []string, reasons map[string]string) string {
	var parts []string
	if len(aggs) > 0 {
		var b strings.Builder
		for _, a := range aggs {
			b.WriteString(a.text(c))
		}
		parts = append(parts, b.String())
	} else {
		parts = append(parts, "")
	}
	color := c.green
	if responses < discovered {
		color = c.red
	}
	parts = append(parts, fmt.Sprintf("Finished processing %s / %s hosts in %.2f ms",
		color(fmt.Sprint(responses)), color(fmt.Sprint(discovered)), ms(agentTime)))
	parts = append(parts, "")
	var silent []string
	why := map[string][]string{}
	for _, n := range missing {
		if r, ok := reasons[n]; ok {
			why[r] = append(why[r], n)
		} else {
			silent = append(silent, n)
		}
	}
	if len(silent) > 0 {
		parts = append(parts, "", c.red("No response from:")+"\n\n"+columns(silent))
	}
	for _, r := range []string{client.ReasonConnectionLost, client.ReasonNotSent} {
		if len(why[r]) > 0 {
			parts = append(parts, "", c.red(missingHeading[r])+"\n\n"+columns(why[r]))
		}
	}
	parts = append(parts, "")
	return strings.Join(parts, "\n")
}

// missingHeading titles the list of missing nodes of each reason.
var missingHeading = map[string]string{
	client.ReasonConnectionLost: "No response from (broker connection lost; the request went out at most once):",
	client.ReasonNotSent:        "Not sent to (the call failed first):",
}

// columns lays names out as mco does: fields of at least 30 characters, as many as fit in 90.
func columns(names []string) string {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	size := 30
	for _, n := range sorted {
		size = max(size, len(n))
	}
	num := max(90/size, 1)
	var b strings.Builder
	for i := 0; i < len(sorted); i += num {
		b.WriteString("   ")
		for j := i; j < i+num; j++ {
			n := ""
			if j < len(sorted) {
				n = sorted[j]
			}
			fmt.Fprintf(&b, " %-*s", size, n)
		}
		b.WriteString("\n")
	}
	return b.String()
}
