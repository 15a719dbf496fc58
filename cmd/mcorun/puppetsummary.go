package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/message"
)

// summaryFields are the last_run_summary outputs mco puppet summary shows, with its labels.
var summaryFields = []struct{ label, field string }{
	{"Total resources", "total_resources"},
	{"Out Of Sync resources", "out_of_sync_resources"},
	{"Failed resources", "failed_resources"},
	{"Changed resources", "changed_resources"},
	{"Corrected resources", "corrected_resources"},
	{"Config Retrieval time (seconds)", "config_retrieval_time"},
	{"Total run-time (seconds)", "total_time"},
	{"Time since last run (seconds)", "since_lastrun"},
}

// fieldStats are the statistics of one numeric output over the successful replies.
type fieldStats struct {
	Count   int       `json:"count"`
	Min     float64   `json:"min"`
	Avg     float64   `json:"avg"`
	Max     float64   `json:"max"`
	Buckets []int     `json:"buckets"` // the histogram behind the sparkline: 20 equal ranges from min to max
	values  []float64 // the values, in reply order
}

// summaryDoc is the document mcorun puppet summary --json prints: the rpc document of the
// last_run_summary call and the statistics of each field.
type summaryDoc struct {
	rpcDocJSON
	Nodes      int                    `json:"nodes"`
	Statistics map[string]*fieldStats `json:"statistics"`
}

// statsForField gathers field from the successful replies; nil when none has a number.
func statsForField(replies []client.Result, field string) *fieldStats {
	st := &fieldStats{}
	for _, r := range replies {
		if r.Code != message.OK {
			continue
		}
		if f, ok := toFloat(r.Data[field]); ok {
			st.values = append(st.values, f)
		}
	}
	if len(st.values) == 0 {
		return nil
	}
	st.Count = len(st.values)
	st.Min, st.Max = st.values[0], st.values[0]
	var total float64
	for _, v := range st.values {
		st.Min, st.Max = math.Min(st.Min, v), math.Max(st.Max, v)
		total += v
	}
	st.Avg = total / float64(st.Count)
	const bucketCount = 20
	st.Buckets = make([]int, bucketCount)
	if st.Max != st.Min {
		size := (st.Max-st.Min)/bucketCount + 1
		for _, v := range st.values {
			st.Buckets[int((v-st.Min)/size)]++
		}
	}
	return st
}

// sparkline renders the stats as mco puppet summary does: the histogram, min, avg and max.
func (st *fieldStats) sparkline() string {
	if st == nil {
		return ""
	}
	return fmt.Sprintf("%s  min: %-6s avg: %-6s max: %-6s", spark(st.Buckets), shortenNumber(st.Min), shortenNumber(st.Avg), shortenNumber(st.Max))
}

var sparkTicks = []string{"▁", "▂", "▃", "▄", "▅", "▆", "▇"}

// spark draws a histogram with block characters scaled to its largest bucket.
func spark(histo []int) string {
	lo, hi := histo[0], histo[0]
	for _, v := range histo {
		lo, hi = min(lo, v), max(hi, v)
	}
	if hi == lo {
		return strings.Repeat(sparkTicks[0], len(histo))
	}
	scale := len(sparkTicks) - 1
	distance := float64(hi) / float64(scale)
	var b strings.Builder
	for _, v := range histo {
		tick := int(math.Round(float64(v) / distance))
		if tick < 0 {
			tick = 0
		}
		if v > 0 && tick == 0 {
			tick = 1 // show at least something for very small values
		}
		b.WriteString(sparkTicks[tick])
	}
	return b.String()
}

// shortenNumber prints n with one decimal, in thousands (k) or millions (m) when large.
func shortenNumber(n float64) string {
	switch {
	case n >= 1000000:
		return fmt.Sprintf("%0.1fm", n/1000000)
	case n >= 1000:
		return fmt.Sprintf("%0.1fk", n/1000)
	}
	return fmt.Sprintf("%0.1f", n)
}

// summary calls last_run_summary and prints mco puppet summary's statistics.
func (pc *puppetCall) summary(ctx context.Context) int {
	s, e := pc.s, pc.s.e
	cr, code, done := pc.call(ctx, "last_run_summary", nil, false)
	if done {
		return code
	}
	stats := map[string]*fieldStats{}
	for _, f := range summaryFields {
		if st := statsForField(cr.replies, f.field); st != nil {
			stats[f.field] = st
		}
	}
	if s.flags.json {
		aggs := computeAggregates(pc.ddl.Actions["last_run_summary"], cr.replies)
		doc := summaryDoc{
			rpcDocJSON: rpcJSON("puppet", "last_run_summary", cr.res, aggs, cr.discovery, cr.agentTime),
			Nodes:      len(cr.replies), Statistics: stats,
		}
		if err := writeJSON(e.stdout, doc); err != nil {
			return s.fail(err)
		}
		return exitForResults(cr.res)
	}
	writeSummary(e.stdout, len(cr.replies), stats)
	if len(cr.res.Missing) > 0 {
		fmt.Fprintf(e.stdout, "%s\n\n%s\n", s.color.red("No response from:"), columns(cr.res.Missing))
	}
	return exitForResults(cr.res)
}

func writeSummary(w io.Writer, nodes int, stats map[string]*fieldStats) {
	fmt.Fprintf(w, "Summary statistics for %d nodes:\n\n", nodes)
	for _, f := range summaryFields {
		fmt.Fprintf(w, "%33s: %s\n", f.label, stats[f.field].sparkline())
	}
	fmt.Fprintln(w)
}
