package playbook

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/mcorun/mcorun/runtime/client"
	"github.com/mcorun/mcorun/starlib"
)

// FormatStep renders one call event as a progress line, for example
//
//	rpc puppet.runonce  targets=5 ok=4 failed=1 missing=0  1.23s
//	discover [fact role=web]  found=3  0.31s
//	wait_until  polls=12  55.00s  done
//
// A filter other than "no filter" is shown in brackets and a call that failed as a whole
// ends with "error: ...". An rpc that a dry run did not send shows the nodes that would run
// it and "dry-run" in place of a time:
//
//	rpc puppet.runonce  targets=5 would-run=5  dry-run
func FormatStep(ev starlib.Event) string {
	return formatStep(ev, false)
}

const (
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiReset  = "\x1b[0m"
)

func formatStep(ev starlib.Event, color bool) string {
	paint := func(s, code string, on bool) string {
		if color && on {
			return code + s + ansiReset
		}
		return s
	}
	var b strings.Builder
	if ev.Kind == "wait" {
		fmt.Fprintf(&b, "wait_until  polls=%d  %.2fs", ev.Polls, ev.Duration.Seconds())
		if ev.Err == "" {
			b.WriteString("  done")
		} else {
			b.WriteString("  " + paint("error: "+ev.Err, ansiRed, true))
		}
		return b.String()
	}
	b.WriteString(ev.Kind)
	if ev.Kind == "rpc" {
		fmt.Fprintf(&b, " %s.%s", ev.Agent, ev.Action)
	}
	if ev.Filter != "" && ev.Filter != "no filter" {
		fmt.Fprintf(&b, " [%s]", ev.Filter)
	}
	switch {
	case ev.Kind == "rpc" && ev.DryRun:
		fmt.Fprintf(&b, "  targets=%d would-run=%d  dry-run", len(ev.Targets), len(ev.OK))
	case ev.Kind == "rpc":
		fmt.Fprintf(&b, "  targets=%d ok=%d %s %s", len(ev.Targets), len(ev.OK),
			paint(fmt.Sprintf("failed=%d", len(ev.Failed)), ansiRed, len(ev.Failed) > 0),
			paint(fmt.Sprintf("missing=%d", len(ev.Missing)), ansiYellow, len(ev.Missing) > 0))
		if len(ev.NotSent) > 0 {
			fmt.Fprintf(&b, " %s", paint(fmt.Sprintf("not-sent=%d", len(ev.NotSent)), ansiRed, true))
		}
	default:
		fmt.Fprintf(&b, "  found=%d", len(ev.Targets))
	}
	if !ev.DryRun {
		fmt.Fprintf(&b, "  %.2fs", ev.Duration.Seconds())
	}
	if ev.Err != "" {
		b.WriteString("  " + paint("error: "+ev.Err, ansiRed, true))
	}
	return b.String()
}

// progress is the run's starlib.Logger: it prints log() lines and one line per step to w
// and records both in the report. The calls of a wait_until's polls are recorded but not
// printed (the wait's own line sums them up), and quiet prints no step at all: either is
// printed anyway when it failed.
type progress struct {
	mu    sync.Mutex // serialises writes to w
	w     io.Writer
	color bool
	quiet bool
	clock starlib.Clock
	rec   *recorder
}

// Log implements starlib.Logger.
func (p *progress) Log(msg string, fields map[string]any) {
	p.rec.line(p.clock.Now(), "log", msg, fields)
	p.println(starlib.FormatLog(msg, fields))
}

// Step implements starlib.Logger.
func (p *progress) Step(ev starlib.Event) {
	p.rec.step(p.clock.Now(), ev)
	if (p.quiet || ev.Polled) && ev.Err == "" {
		return
	}
	p.println(formatStep(ev, p.color))
}

func (p *progress) println(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, s)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// colorAllowed reports whether coloured output may go to w: a terminal, and NO_COLOR unset
// or empty (https://no-color.org).
func colorAllowed(w io.Writer) bool {
	return isTerminal(w) && os.Getenv("NO_COLOR") == ""
}

// barFleet shows a live progress bar on a terminal while an rpc call collects replies: a
// bar when the targets are known in advance, a spinner otherwise. The bar is cleared when
// the call returns, before its progress line is printed.
type barFleet struct {
	starlib.Fleet
	w     io.Writer
	color bool
}

// Call implements starlib.Fleet.
func (f barFleet) Call(ctx context.Context, agent, action string, args map[string]any, opts client.CallOptions) (*client.Results, error) {
	max := -1
	if opts.Nodes != nil {
		max = len(opts.Nodes)
	}
	bar := progressbar.NewOptions(max,
		progressbar.OptionSetWriter(f.w),
		progressbar.OptionSetDescription("rpc "+agent+"."+action),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionEnableColorCodes(f.color),
		progressbar.OptionClearOnFinish(),
	)
	prev := opts.OnReply
	opts.OnReply = func(r client.Result) {
		_ = bar.Add(1)
		if prev != nil {
			prev(r)
		}
	}
	res, err := f.Fleet.Call(ctx, agent, action, args, opts)
	_ = bar.Clear()
	_ = bar.Exit()
	return res, err
}
