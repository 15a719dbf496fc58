package main

import (
	"slices"
	"sort"
	"time"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/listing"
	"github.com/mcorun/mcorun/runtime/value"
)

// rpcReplyJSON is one node's reply in rpc --json.
type rpcReplyJSON struct {
	Sender     string  `json:"sender"`
	StatusCode int     `json:"statuscode"`
	StatusMsg  string  `json:"statusmsg"`
	Data       any     `json:"data"`
	ElapsedMS  float64 `json:"elapsed_ms"`
}

// rpcDocJSON is the document rpc --json prints: the request, which nodes succeeded, failed
// or never replied, every reply, the aggregate summaries and the timings.
type rpcDocJSON struct {
	Agent       string         `json:"agent"`
	Action      string         `json:"action"`
	RequestID   string         `json:"requestid"`
	Discovered  []string       `json:"discovered"`
	OK          []string       `json:"ok"`
	Failed      []string       `json:"failed"`
	Missing     []string       `json:"missing"`
	Replies     []rpcReplyJSON `json:"replies"`
	Summaries   []aggregate    `json:"summaries"`
	DiscoveryMS float64        `json:"discovery_ms"`
	AgentMS     float64        `json:"agent_ms"`
}

func rpcJSON(agent, action string, res *client.Results, aggs []aggregate, discovery, agentTime time.Duration) rpcDocJSON {
	doc := rpcDocJSON{
		Agent: agent, Action: action, RequestID: res.RequestID,
		Discovered: nonNil(res.Targets), OK: []string{}, Failed: []string{}, Missing: nonNil(res.Missing),
		Replies: []rpcReplyJSON{}, Summaries: aggs,
		DiscoveryMS: round2(ms(discovery)), AgentMS: round2(ms(agentTime)),
	}
	if doc.Summaries == nil {
		doc.Summaries = []aggregate{}
	}
	replies := append(append([]client.Result(nil), res.OK...), res.Failed...)
	sortResults(replies)
	for _, r := range replies {
		if r.OK() {
			doc.OK = append(doc.OK, r.Sender)
		} else {
			doc.Failed = append(doc.Failed, r.Sender)
		}
		data := map[string]any{}
		for k, v := range r.Data {
			data[k] = value.JSON(v)
		}
		doc.Replies = append(doc.Replies, rpcReplyJSON{
			Sender: r.Sender, StatusCode: int(r.Code), StatusMsg: r.Message, Data: data, ElapsedMS: round2(ms(r.Elapsed)),
		})
	}
	for i := range doc.Summaries {
		for j := range doc.Summaries[i].Counts {
			doc.Summaries[i].Counts[j].Value = value.JSON(doc.Summaries[i].Counts[j].Value)
		}
	}
	return doc
}

// rpcList is the list rpc prints with --format: a row per reply and per node that did not
// reply (outcome ok, failed or missing), a column per output the replies hold (named
// data.KEY when the name is taken), and doc for json and yaml.
func rpcList(doc rpcDocJSON) listing.List {
	fixed := []string{"sender", "outcome", "statuscode", "statusmsg", "elapsed_ms"}
	keys := map[string]bool{}
	for _, r := range doc.Replies {
		for k := range r.Data.(map[string]any) {
			keys[k] = true
		}
	}
	dataKeys := sortedKeys(keys)
	cols := append([]string(nil), fixed...)
	for _, k := range dataKeys {
		if slices.Contains(fixed, k) {
			k = "data." + k
		}
		cols = append(cols, k)
	}
	l := listing.List{Columns: cols, Doc: doc}
	for _, r := range doc.Replies {
		outcome := "ok"
		if r.StatusCode != 0 {
			outcome = "failed"
		}
		row := []any{r.Sender, outcome, r.StatusCode, r.StatusMsg, r.ElapsedMS}
		data := r.Data.(map[string]any)
		for _, k := range dataKeys {
			row = append(row, data[k])
		}
		l.Rows = append(l.Rows, row)
	}
	for _, n := range doc.Missing {
		row := make([]any, len(cols))
		row[0], row[1] = n, "missing"
		l.Rows = append(l.Rows, row)
	}
	return l
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sortResults(rs []client.Result) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Sender < rs[j].Sender })
}

func sortStrings(s []string) { sort.Strings(s) }
