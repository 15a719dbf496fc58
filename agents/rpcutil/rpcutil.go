// Package rpcutil is the rpcutil agent: the helpful actions that expose a node's inventory,
// facts, configuration, statistics and data plugins to SimpleRPC clients, with the same reply
// data as MCollective 2.12's agent so that stock mco inventory, mco rpc rpcutil and mco ping
// -style tools read it unchanged.
package rpcutil

import (
	"context"
	"errors"
	"os"
	"sort"
	"strings"
	"syscall"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

// Version is the MCollective version the node reports in inventory and daemon_stats.
const Version = "2.12.5"

// New returns the rpcutil agent over n.
func New(n agent.Node) *agent.Agent {
	d, err := ddl.Builtin("rpcutil")
	if err != nil {
		panic(err) // the embedded DDL is tested; failure is a build defect
	}
	u := &util{n: n}
	return &agent.Agent{DDL: d, Actions: map[string]agent.Action{
		"inventory":       u.inventory,
		"get_fact":        u.getFact,
		"get_facts":       u.getFacts,
		"daemon_stats":    u.daemonStats,
		"agent_inventory": u.agentInventory,
		"get_config_item": u.getConfigItem,
		"ping":            u.ping,
		"collective_info": u.collectiveInfo,
		"get_data":        u.getData,
	}}
}

type util struct{ n agent.Node }

func set(rep *agent.Reply, key string, v any) {
	if rep.Data == nil {
		rep.Data = map[string]any{}
	}
	rep.Data[key] = v
}

func str(req *agent.Request, key string) string {
	s, _ := req.Data[key].(string)
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (u *util) agentNames() []string {
	var names []string
	for _, a := range u.n.Agents() {
		names = append(names, a.Metadata.Name)
	}
	return nonNil(names)
}

func (u *util) inventory(_ context.Context, _ *agent.Request, rep *agent.Reply) {
	facts := u.n.Facts()
	if facts == nil {
		facts = map[string]any{}
	}
	set(rep, "agents", u.agentNames())
	set(rep, "facts", facts)
	set(rep, "version", Version)
	set(rep, "classes", nonNil(u.n.Classes()))
	set(rep, "main_collective", u.n.MainCollective())
	set(rep, "collectives", nonNil(u.n.Collectives()))
	set(rep, "data_plugins", nonNil(u.n.DataPlugins()))
}

func (u *util) getFact(_ context.Context, req *agent.Request, rep *agent.Reply) {
	name := str(req, "fact")
	v, _ := u.n.Fact(name)
	set(rep, "fact", name)
	set(rep, "value", v)
}

func (u *util) getFacts(_ context.Context, req *agent.Request, rep *agent.Reply) {
	values := map[string]any{}
	for _, f := range strings.Split(str(req, "facts"), ",") {
		f = strings.TrimSpace(f)
		v, _ := u.n.Fact(f)
		values[f] = v
	}
	set(rep, "values", values)
}

func (u *util) daemonStats(_ context.Context, _ *agent.Request, rep *agent.Reply) {
	st := u.n.Stats()
	pid := st.Pid
	if pid == 0 {
		pid = os.Getpid()
	}
	set(rep, "threads", nonNil(st.Threads))
	set(rep, "agents", u.agentNames())
	set(rep, "pid", int64(pid))
	set(rep, "times", cpuTimes())
	set(rep, "configfile", st.ConfigFile)
	set(rep, "version", Version)
	set(rep, "validated", st.Validated)
	set(rep, "unvalidated", st.Unvalidated)
	set(rep, "passed", st.Passed)
	set(rep, "filtered", st.Filtered)
	set(rep, "starttime", st.StartTime.Unix())
	set(rep, "total", st.Total)
	set(rep, "ttlexpired", st.TTLExpired)
	set(rep, "replies", st.Replies)
}

// cpuTimes is Ruby's Process.times: user and system CPU seconds of this process and of its
// waited-for children.
func cpuTimes() map[marshal.Symbol]any {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	sec := func(tv syscall.Timeval) float64 { return float64(tv.Nano()) / 1e9 }
	return map[marshal.Symbol]any{
		"utime":  sec(self.Utime),
		"stime":  sec(self.Stime),
		"cutime": sec(children.Utime),
		"cstime": sec(children.Stime),
	}
}

func (u *util) agentInventory(_ context.Context, _ *agent.Request, rep *agent.Reply) {
	agents := append([]*ddl.Agent(nil), u.n.Agents()...)
	sort.Slice(agents, func(i, j int) bool { return agents[i].Metadata.Name < agents[j].Metadata.Name })
	list := make([]any, 0, len(agents))
	for _, a := range agents {
		m := a.Metadata
		list = append(list, map[marshal.Symbol]any{
			"agent":       m.Name,
			"license":     orUnknown(m.License),
			"timeout":     int64(m.Timeout),
			"description": orUnknown(m.Description),
			"name":        m.DisplayNameOrName(),
			"url":         orUnknown(m.URL),
			"version":     orUnknown(m.Version),
			"author":      orUnknown(m.Author),
		})
	}
	set(rep, "agents", list)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func (u *util) getConfigItem(_ context.Context, req *agent.Request, rep *agent.Reply) {
	item := str(req, "item")
	v, ok := u.n.ConfigItem(item)
	if !ok {
		rep.Fail(message.Aborted, "Unknown config property "+item)
		return
	}
	set(rep, "item", item)
	set(rep, "value", v)
}

func (u *util) ping(_ context.Context, _ *agent.Request, rep *agent.Reply) {
	set(rep, "pong", u.n.Now().Unix())
}

func (u *util) collectiveInfo(_ context.Context, _ *agent.Request, rep *agent.Reply) {
	set(rep, "main_collective", u.n.MainCollective())
	set(rep, "collectives", nonNil(u.n.Collectives()))
}

func (u *util) getData(ctx context.Context, req *agent.Request, rep *agent.Reply) {
	query := req.Data["query"]
	data, err := u.n.Data(ctx, str(req, "source"), query)
	if err != nil {
		status := message.UnknownError
		var ve *ddl.ValidationError
		if errors.As(err, &ve) {
			status = ve.Status
		}
		rep.Fail(status, err.Error())
		return
	}
	for k, v := range data {
		set(rep, k, v)
	}
}
