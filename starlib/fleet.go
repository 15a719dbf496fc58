package starlib

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/runtime/ddl"
)

// Fleet is what playbooks act on: a real MCollective client, a sandbox or a test double.
type Fleet interface {
	Discover(ctx context.Context, opts client.DiscoverOptions) ([]string, error)
	Call(ctx context.Context, agent, action string, args map[string]any, opts client.CallOptions) (*client.Results, error)
	DDL(agent string) (*ddl.Agent, error)
	// Plan decides a call without sending it (client.NewPlan with the fleet's settings);
	// --dry-run prints it and Call executes the same decision.
	Plan(agent, action string, args map[string]any, opts client.CallOptions) (*client.Plan, error)
}

// Clock is the time source of sleep, wait_until, rolling and time.now(). Tests use a fake
// clock so that nothing really waits.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, and then returns ctx.Err().
	Sleep(ctx context.Context, d time.Duration) error
}

// Event describes one discover or rpc call of a playbook, or one whole wait_until, for
// progress lines and the run report. Node lists are sorted identities.
type Event struct {
	Kind    string         // "discover", "rpc" or "wait"
	Agent   string         // rpc only
	Action  string         // rpc only
	Filter  string         // the filter as people read it, "no filter" when there is none
	Args    map[string]any // rpc only: the arguments sent (or that would have been sent)
	Targets []string       // discover: the nodes found; rpc: the nodes expected to reply
	OK      []string       // rpc only
	Failed  []string       // rpc only
	Missing []string       // rpc only: the request went out and no reply came
	// MissingReasons says why a Missing node did not reply when it is not simply silent
	// ("broker connection lost"); rpc only.
	MissingReasons map[string]string
	NotSent        []string      // rpc only: targets the call failed before sending to
	Duration       time.Duration // wall time of the call by the thread's clock
	DryRun         bool          // the rpc was not sent because of SetDryRun
	Err            string        // non-empty when the call (or the wait) failed as a whole
	Polls          int           // wait only: how many times the wait's function ran
	// Polled marks a call made by a wait_until's function: the wait's own event sums them
	// up, so a display shows it only when it failed.
	Polled bool
}

// Logger receives a playbook's log() lines and one Event per discover or rpc call.
type Logger interface {
	Log(msg string, fields map[string]any)
	Step(ev Event)
}

// BatchLogger is a Logger that also hears of each rolling() step: when it starts (its
// index, kind and nodes), and when it ends, with its report and why rolling stops after it
// (empty when it goes on). The run journal records them.
type BatchLogger interface {
	Logger
	BatchStart(b BatchReport)
	Batch(b BatchReport, stopped string)
}

// Thread-local keys. Values are set before execution starts and only read afterwards.
const (
	fleetKey  = "mcorun.fleet"
	ctxKey    = "mcorun.context"
	clockKey  = "mcorun.clock"
	loggerKey = "mcorun.logger"
	dryRunKey = "mcorun.dryrun"
	argsKey   = "mcorun.args"
	dataKey   = "mcorun.dataddls"
)

// SetDataDDLs sets where filter.compound finds the DDLs of the data plugins an expression
// calls (ddl.DataFromLibDirs of the client's libdirs). Without it, the built-in ones.
func SetDataDDLs(thread *starlark.Thread, data ddl.DataFunc) { thread.SetLocal(dataKey, data) }

// dataDDLs is the thread's data plugin DDL lookup.
func dataDDLs(thread *starlark.Thread) ddl.DataFunc {
	if thread != nil {
		if d, _ := thread.Local(dataKey).(ddl.DataFunc); d != nil {
			return d
		}
	}
	return ddl.DataFromLibDirs(nil)
}

// SetFleet sets the fleet that discover and rpc act on. Without one they fail.
func SetFleet(thread *starlark.Thread, f Fleet) { thread.SetLocal(fleetKey, f) }

// SetContext sets the context that bounds every fleet call and wait of the thread. Cancel it
// together with thread.Cancel to abort a run promptly.
func SetContext(thread *starlark.Thread, ctx context.Context) { thread.SetLocal(ctxKey, ctx) }

// SetClock sets the thread's clock; time.now() follows it too. The default is the real clock.
func SetClock(thread *starlark.Thread, c Clock) {
	thread.SetLocal(clockKey, c)
	setTimeNow(thread, c)
}

// SetLogger sets the receiver of log() lines and call events. Without one, log() lines go to
// the thread's print function and events are dropped.
func SetLogger(thread *starlark.Thread, l Logger) { thread.SetLocal(loggerKey, l) }

// SetDryRun makes rpc() skip the calls for which fn(agent, action) is true: it logs what
// would be sent and returns an all-ok ResultSet for the targets, whose data holds the DDL
// output defaults. Discovery still runs for real.
func SetDryRun(thread *starlark.Thread, fn func(agent, action string) bool) {
	thread.SetLocal(dryRunKey, fn)
}

// SetArgs sets the raw --arg k=v values that params() converts and checks.
func SetArgs(thread *starlark.Thread, raw map[string]string) {
	thread.SetLocal(argsKey, &argsState{raw: raw})
}

// CheckArgs reports raw args that no params() call accepted: an error naming the first
// unknown arg when args were given but the playbook never called params().
func CheckArgs(thread *starlark.Thread) error {
	st := threadArgs(thread)
	if st == nil || st.declared || len(st.raw) == 0 {
		return nil
	}
	names := make([]string, 0, len(st.raw))
	for k := range st.raw {
		names = append(names, k)
	}
	sort.Strings(names)
	return fmt.Errorf("params: unknown arg %q: the playbook declares no params()", names[0])
}

func threadArgs(thread *starlark.Thread) *argsState {
	st, _ := thread.Local(argsKey).(*argsState)
	return st
}

func fleetOf(thread *starlark.Thread, fn string) (Fleet, error) {
	f, _ := thread.Local(fleetKey).(Fleet)
	if f == nil {
		return nil, fmt.Errorf("%s: no fleet is connected", fn)
	}
	return f, nil
}

func contextOf(thread *starlark.Thread) context.Context {
	if ctx, _ := thread.Local(ctxKey).(context.Context); ctx != nil {
		return ctx
	}
	return context.Background()
}

func clockOf(thread *starlark.Thread) Clock {
	if c, _ := thread.Local(clockKey).(Clock); c != nil {
		return c
	}
	return WallClock{}
}

func loggerOf(thread *starlark.Thread) Logger {
	if l, _ := thread.Local(loggerKey).(Logger); l != nil {
		return l
	}
	return printLogger{thread}
}

func dryRunOf(thread *starlark.Thread) func(agent, action string) bool {
	fn, _ := thread.Local(dryRunKey).(func(agent, action string) bool)
	return fn
}

// WallClock is the real clock: the default of a thread with no clock set.
type WallClock struct{}

// Now returns the current time.
func (WallClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx ends.
func (WallClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// printLogger is the default Logger: lines through the thread's print, events dropped.
type printLogger struct{ thread *starlark.Thread }

func (p printLogger) Log(msg string, fields map[string]any) {
	line := FormatLog(msg, fields)
	if p.thread.Print != nil {
		p.thread.Print(p.thread, line)
	} else {
		fmt.Println(line)
	}
}

func (printLogger) Step(Event) {}

// FormatLog renders a log() line as "msg k1=v1 k2=v2" with the keys sorted. Values read
// as a playbook author writes them (see LogValue), never in Go's notation.
func FormatLog(msg string, fields map[string]any) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(msg)
	for _, k := range keys {
		b.WriteString(" " + k + "=" + LogValue(fields[k]))
	}
	return b.String()
}

// repr is a log field's Starlark repr, for the values that have no plain Go form (a filter):
// it is printed as it is, and is a string in a report.
type repr string

// LogValue renders one log field: a plain word as it is (directed, nginx, 12s), any other
// string quoted, and every other value in Starlark's notation: {"force": True},
// ["web1", "web2"], None.
func LogValue(v any) string {
	if r, ok := v.(repr); ok {
		return string(r)
	}
	if s, ok := v.(string); ok {
		if s != "" && !strings.ContainsAny(s, " \t\r\n\"'=\\{}[](),") {
			return s
		}
		return starlark.String(s).String()
	}
	sv, err := ToStarlark(v)
	if err != nil {
		return starlark.String(fmt.Sprint(v)).String()
	}
	return sv.String()
}

// cancelProbe is a Starlark function with no effect. Calling it fails once the thread is
// cancelled (thread.Cancel or the step budget), which lets a builtin that waits notice
// cancellation: the interpreter offers no other way to observe it.
var cancelProbe = func() *starlark.Function {
	fn, err := starlark.ExprFuncOptions(&syntax.FileOptions{}, "<cancel>", "0", nil)
	if err != nil {
		panic(err)
	}
	fn.Freeze()
	return fn
}()

// cancelled returns a non-nil error once the thread is cancelled or its context is done.
func cancelled(thread *starlark.Thread) error {
	if err := contextOf(thread).Err(); err != nil {
		return err
	}
	_, err := starlark.Call(thread, cancelProbe, nil, nil)
	return err
}

// sleepSlice bounds each wait so that thread.Cancel is noticed promptly.
const sleepSlice = 100 * time.Millisecond

// sleepFor waits d on the thread's clock in slices, returning early with an error when the
// thread is cancelled or its context is done.
func sleepFor(thread *starlark.Thread, d time.Duration) error {
	clock, ctx := clockOf(thread), contextOf(thread)
	for d > 0 {
		if err := cancelled(thread); err != nil {
			return err
		}
		step := min(d, sleepSlice)
		if err := clock.Sleep(ctx, step); err != nil {
			return err
		}
		d -= step
	}
	return cancelled(thread)
}
