package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/mcorun/mcorun/runtime/listing"
)

const pingUsage = `Usage:
  mcorun ping [filters] [flags]

Pings the discovered nodes with the discovery agent and prints each reply time,
then statistics, like mco ping. It ends as soon as discovery completes, at most
after the discovery timeout.

Examples:
  mcorun ping
  mcorun ping -F role=web
  mcorun ping -1
  mcorun ping -S 'environment=production and !role=db' --json
  mcorun ping --format jsonl
`

func pingCommand() *command {
	return &command{name: "ping", summary: "ping the nodes and show their reply times", usage: pingUsage, run: runPing}
}

func runPing(ctx context.Context, e *env, args []string) int {
	var c commonFlags
	fs := newFlagSet("ping", &c)
	addFormatFlag(fs, &c)
	s, fl, closeFn, code, ok := startVerb(ctx, e, "ping", pingUsage, fs, &c, args, noOperands)
	if !ok {
		return code
	}
	defer closeFn()
	replies, err := fl.Ping(ctx, c.listOptions(s.filter, s.nodes))
	if err != nil {
		return s.fail(fmt.Errorf("ping: %w", err))
	}
	sort.SliceStable(replies, func(i, j int) bool { return replies[i].Elapsed < replies[j].Elapsed })
	if c.json {
		rows := make([][]any, len(replies))
		for i, r := range replies {
			rows[i] = []any{r.Sender, round2(ms(r.Elapsed))}
		}
		if err := s.writeList(listing.List{Columns: []string{"sender", "time_ms"}, Rows: rows, Doc: pingJSON(replies)}); err != nil {
			return s.fail(err)
		}
	} else {
		fmt.Fprint(e.stdout, formatPing(replies))
	}
	if len(replies) == 0 {
		return exitNothingDiscovered
	}
	return exitOK
}

// formatPing renders replies as mco ping does.
func formatPing(replies []pingReply) string {
	var b []byte
	for _, r := range replies {
		b = fmt.Appendf(b, "%-40s time=%.2f ms\n", r.Sender, ms(r.Elapsed))
	}
	b = append(b, "\n\n---- ping statistics ----\n"...)
	if len(replies) == 0 {
		b = append(b, "No responses received\n"...)
		return string(b)
	}
	st := pingStats(replies)
	b = fmt.Appendf(b, "%d replies max: %.2f min: %.2f avg: %.2f \n", len(replies), st.max, st.min, st.avg)
	return string(b)
}

type pingSummary struct{ min, max, avg float64 }

func pingStats(replies []pingReply) pingSummary {
	if len(replies) == 0 {
		return pingSummary{}
	}
	st := pingSummary{min: ms(replies[0].Elapsed), max: ms(replies[0].Elapsed)}
	var sum float64
	for _, r := range replies {
		t := ms(r.Elapsed)
		sum += t
		st.min = min(st.min, t)
		st.max = max(st.max, t)
	}
	st.avg = sum / float64(len(replies))
	return st
}

// pingJSON is the --json document of ping.
func pingJSON(replies []pingReply) any {
	type reply struct {
		Sender string  `json:"sender"`
		TimeMS float64 `json:"time_ms"`
	}
	out := struct {
		Replies []reply `json:"replies"`
		Count   int     `json:"count"`
		MinMS   float64 `json:"min_ms"`
		MaxMS   float64 `json:"max_ms"`
		AvgMS   float64 `json:"avg_ms"`
	}{Replies: []reply{}, Count: len(replies)}
	for _, r := range replies {
		out.Replies = append(out.Replies, reply{r.Sender, round2(ms(r.Elapsed))})
	}
	st := pingStats(replies)
	out.MinMS, out.MaxMS, out.AvgMS = round2(st.min), round2(st.max), round2(st.avg)
	return out
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
