package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/pflag"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/discovery"
	"github.com/mcorun/mcorun/runtime/listing"
	"github.com/mcorun/mcorun/runtime/message"
)

// session is a verb's parsed setup: everything checked before anything is sent.
type session struct {
	e      *env
	verb   string
	flags  *commonFlags
	cfg    *config.Config
	filter message.Filter
	nodes  []string // from --nodes; nil means discover
	color  colorizer
	format listing.Format // --format (or --json); Table is the verb's own layout
}

// prepare loads the config, builds the filter and reads --nodes. A failure is a usage or
// config error: it has been printed and code is the exit code.
func prepare(e *env, verb string, c *commonFlags) (s *session, code int, ok bool) {
	if err := c.check(); err != nil {
		return nil, usageErr(e, verb, err), false
	}
	format, err := c.listFormat()
	if err != nil {
		return nil, usageErr(e, verb, err), false
	}
	if _, err := c.buildFilter(nil); err != nil {
		return nil, usageErr(e, verb, err), false
	}
	nodes, err := readNodes(e, c.nodesFile)
	if err != nil {
		return nil, usageErr(e, verb, err), false
	}
	cfg, err := loadConfig(e, c)
	if err != nil {
		fmt.Fprintf(e.stderr, "mcorun %s: %v\n", verb, err)
		return nil, exitUsage, false
	}
	// Built again now that the libdirs are known: a data plugin the filter calls must have
	// a DDL (built in or in a libdir) that declares the field it compares.
	f, err := c.buildFilter(ddl.DataFromLibDirs(cfg.LibDir))
	if err != nil {
		return nil, usageErr(e, verb, err), false
	}
	if err := c.chooseMethod(cfg, f, nodes != nil); err != nil {
		return nil, usageErr(e, verb, err), false
	}
	s = &session{e: e, verb: verb, flags: c, cfg: cfg, filter: f, nodes: nodes, format: format}
	s.color = colorizer{on: e.stdoutTTY && e.getenv("NO_COLOR") == "" && cfg.Color && !c.json}
	return s, 0, true
}

// startVerb runs the steps a fleet verb begins with: it parses args into fs (printing usage
// for --help), checks the operands with operands, prepares the session and connects. When ok
// is false the verb is over and returns code: the help was shown or the error printed.
// Otherwise the caller closes the fleet with closeFn.
func startVerb(ctx context.Context, e *env, verb, usage string, fs *pflag.FlagSet, c *commonFlags, args []string,
	operands func(fs *pflag.FlagSet) error) (s *session, fl fleet, closeFn func(), code int, ok bool) {
	if done, err := parseFlags(e, fs, usage, args); done {
		return nil, nil, nil, exitOK, false
	} else if err != nil {
		return nil, nil, nil, usageErr(e, verb, err), false
	}
	if err := operands(fs); err != nil {
		return nil, nil, nil, usageErr(e, verb, err), false
	}
	if s, code, ok = prepare(e, verb, c); !ok {
		return nil, nil, nil, code, false
	}
	fl, closeFn, code, ok = s.connect(ctx)
	return s, fl, closeFn, code, ok
}

// noOperands is the operands check of the verbs that take none.
func noOperands(fs *pflag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// connect opens the fleet client; on failure it prints the error and returns its exit code.
func (s *session) connect(ctx context.Context) (fleet, func(), int, bool) {
	for _, w := range s.cfg.Warnings {
		if s.flags.verbose {
			fmt.Fprintf(s.e.stderr, "mcorun: warning: %s\n", w)
		}
	}
	fl, closeFn, err := s.e.connect(ctx, s.cfg, newLogger(s.e.stderr, s.flags.verbose))
	if err != nil {
		return nil, nil, s.fail(err), false
	}
	return fl, closeFn, 0, true
}

// fail prints err and returns its exit code: the usage code for config errors, else 1.
func (s *session) fail(err error) int {
	fmt.Fprintf(s.e.stderr, "mcorun %s: %v\n", s.verb, err)
	if errors.Is(err, errConfig) || errors.Is(err, discovery.ErrUnsupportedFilter) {
		return exitUsage
	}
	return exitFailure
}

// discoveryTimeout is the discovery upper bound shown to the user, in whole seconds.
func (s *session) discoveryTimeout() int {
	if d := time.Duration(s.flags.discoveryTimeout); d > 0 {
		return int((d + time.Second - 1) / time.Second)
	}
	if s.cfg.DiscoveryTimeout > 0 {
		return s.cfg.DiscoveryTimeout
	}
	return 2
}

// progress returns a progress bar for total replies, or nil when there should be none:
// not on a terminal, with --np or with --json.
func (s *session) progress(total int) *progressbar.ProgressBar {
	if !s.e.stderrTTY || s.flags.noProgress || s.flags.json || total == 0 {
		return nil
	}
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(s.e.stderr),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(60),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionEnableColorCodes(s.color.on),
		progressbar.OptionThrottle(50*time.Millisecond),
	)
}

// colorizer wraps text in ANSI colors when on; NO_COLOR or a non-terminal turns it off.
type colorizer struct{ on bool }

func (c colorizer) wrap(code, s string) string {
	if !c.on || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (c colorizer) red(s string) string    { return c.wrap("31", s) }
func (c colorizer) green(s string) string  { return c.wrap("32", s) }
func (c colorizer) yellow(s string) string { return c.wrap("33", s) }
func (c colorizer) bold(s string) string   { return c.wrap("1", s) }

// ms formats a duration in milliseconds as mco does.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// tableStyle is how a verb draws its tables: box drawing on a terminal (ASCII otherwise, or
// with NO_COLOR), cut to the terminal's width unless --wide.
func tableStyle(e *env, c *commonFlags) listing.Style {
	st := listing.Style{Fancy: e.stdoutTTY && e.getenv("NO_COLOR") == ""}
	if !c.wide {
		st.Width = e.width
	}
	return st
}

// writeList prints a verb's list in the machine format --format (or --json) chose.
func (s *session) writeList(l listing.List) error {
	return listing.Write(s.e.stdout, s.format, l)
}

// writeJSON writes v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	return listing.Write(w, listing.JSON, listing.List{Doc: v})
}
