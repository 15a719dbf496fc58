package puppet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/ddl"
	"github.com/mcorun/mcorun/runtime/message"
	"github.com/mcorun/mcorun/runtime/rubyfmt"
)

// runArgs are a runonce's choices, as the plugin passes them to its manager's runonce!.
// Pointers are nil when the choice was not made.
type runArgs struct {
	noop            *bool
	environment     *string
	server          *string
	tags            []string
	ignoreSchedules bool
	useCached       *bool
	splay           *bool
	splayLimit      any // an int64 or, invalidly, a float64
}

// runonce starts one Puppet run: it refuses while Puppet is disabled or applying a catalog,
// signals an idling daemon (USR1) when signal_daemon is on, and otherwise starts the
// configured command with --onetime --no-daemonize and the run's options, detached.
func (p *Puppet) runonce(ctx context.Context, req *agent.Request, rep *agent.Reply) {
	fail := func(msg string) {
		rep.Data["summary"] = msg
		rep.Fail(message.Aborted, msg)
	}
	if p.mgr.disabled() {
		if msg := p.mgr.lockMessage(); msg != "" {
			fail(fmt.Sprintf("Puppet is disabled: '%s'", msg))
		} else {
			fail("Puppet is disabled")
		}
		return
	}
	var a runArgs
	if v, ok := req.Data["noop"].(bool); ok {
		a.noop = &v
	}
	if v, ok := req.Data["environment"].(string); ok {
		a.environment = &v
	}
	if v, ok := req.Data["server"].(string); ok {
		if !p.opts.AllowServerOverride {
			fail("Passing 'server' option is not allowed in module configuration")
			return
		}
		a.server = &v
	}
	if v, ok := req.Data["tags"].(string); ok {
		for _, t := range ddl.RubySplit(v, ",") {
			a.tags = append(a.tags, strings.TrimSpace(t))
		}
	}
	if v, ok := req.Data["ignoreschedules"]; ok && v != nil && v != false {
		a.ignoreSchedules = true
	}
	if v, ok := req.Data["use_cached_catalog"].(bool); ok {
		a.useCached = &v
	}
	// Splay options only apply when no daemon will be signalled.
	if !(p.mgr.daemonPresent() && p.opts.SignalDaemon) {
		if force, _ := req.Data["force"].(bool); force {
			a.splay = ptr(false)
		} else {
			if v, ok := req.Data["splay"].(bool); ok {
				a.splay = &v
			}
			if v, ok := req.Data["splaylimit"]; ok && v != nil {
				a.splayLimit = v
			}
			if a.splay == nil {
				a.splay = ptr(p.opts.Splay)
			}
			if a.splayLimit == nil && *a.splay {
				a.splayLimit = int64(p.opts.SplayLimit)
			}
		}
	}

	if p.mgr.applying() {
		fail("Puppet is currently applying a catalog, cannot run now")
		return
	}
	if p.mgr.disabled() {
		fail("Puppet is disabled, cannot run now")
		return
	}
	cli, err := commonCLI(a)
	if err != nil {
		fail(err.Error())
		return
	}
	idling := p.mgr.daemonPresent() && !p.mgr.applying()
	switch {
	case idling && p.opts.SignalDaemon && len(cli) > 0:
		fail("Cannot specify any custom puppet options when the daemon is running")
		return
	case idling && p.opts.SignalDaemon:
		if err := p.signalDaemon(); err != nil {
			fail(err.Error())
			return
		}
		rep.Data["summary"] = "Signalled the running Puppet Daemon"
	default:
		opts := append([]string{"--onetime", "--no-daemonize", "--color=false", "--show_diff", "--verbose"}, cli...)
		command := strings.Join(append([]string{p.opts.Command}, opts...), " ")
		p.log.Debug("initiating a puppet agent run", "command", command)
		if err := p.launch(ctx, command); err != nil {
			p.log.Warn("failed to start puppet", "command", command, "err", err)
			fail(fmt.Sprintf("Puppet command '%s' had exit code %d, expected 0", command, 1))
			return
		}
		rep.Data["summary"] = fmt.Sprintf("Started a Puppet run using the '%s' command", command)
	}
	rep.Data["initiated_at"] = p.opts.Now().Unix()
}

func ptr[T any](v T) *T { return &v }

// commonCLI validates the run's choices and returns the puppet options they give, in the
// plugin's order.
func commonCLI(a runArgs) ([]string, error) {
	var opts []string
	var host, port string
	var hasPort bool
	if a.server != nil {
		if err := ddl.CheckPuppetServer(*a.server); err != nil {
			return nil, err
		}
		host, port, hasPort = ddl.ParsePuppetServer(*a.server)
	}
	if a.environment != nil && !ddl.ValidPuppetName(*a.environment) {
		return nil, fmt.Errorf("Invalid environment '%s' specified", *a.environment)
	}
	var limit string
	switch v := a.splayLimit.(type) {
	case nil:
	case int64:
		limit = strconv.FormatInt(v, 10)
	case int:
		limit = strconv.Itoa(v)
	default:
		return nil, fmt.Errorf("Invalid splaylimit '%s' specified", rubyfmt.ToS(v))
	}
	if len(a.tags) > 0 {
		for _, tag := range a.tags {
			for _, part := range ddl.RubySplit(tag, "::") {
				if !ddl.ValidPuppetName(part) {
					return nil, fmt.Errorf("Invalid tag '%s' specified", tag)
				}
			}
		}
		opts = append(opts, "--tags "+strings.Join(a.tags, ","))
	}
	if a.splay != nil {
		opts = append(opts, map[bool]string{true: "--splay", false: "--no-splay"}[*a.splay])
	}
	if limit != "" {
		opts = append(opts, "--splaylimit "+limit)
	}
	if a.noop != nil {
		opts = append(opts, map[bool]string{true: "--noop", false: "--no-noop"}[*a.noop])
	}
	if a.environment != nil {
		opts = append(opts, "--environment "+*a.environment)
	}
	if host != "" {
		opts = append(opts, "--server "+host)
	}
	if hasPort {
		opts = append(opts, "--masterport "+port)
	}
	if a.ignoreSchedules {
		opts = append(opts, "--ignoreschedules")
	}
	if a.useCached != nil {
		opts = append(opts, map[bool]string{true: "--use_cached_catalog", false: "--no-use_cached_catalog"}[*a.useCached])
	}
	return opts, nil
}

// signalDaemon wakes the idling agent daemon with USR1.
func (p *Puppet) signalDaemon() error {
	b, err := os.ReadFile(p.mgr.paths.PidFile)
	if err != nil {
		return fmt.Errorf("Failed to signal the puppet agent: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err == nil && pid > 0 {
		err = syscall.Kill(pid, syscall.SIGUSR1)
	} else if err == nil {
		err = errors.New("no pid")
	}
	if err != nil {
		return fmt.Errorf("Failed to signal the puppet agent at pid %s: %w", strings.TrimSpace(string(b)), err)
	}
	return nil
}

// shellMeta are the characters that make Ruby's exec run a command string through /bin/sh
// rather than split it on spaces.
const shellMeta = "*?{}[]<>()~&|\\$;'`\"\n#"

// launch starts a run of command: through Options.Launch when set, otherwise as a detached
// process.
func (p *Puppet) launch(ctx context.Context, command string) error {
	if p.opts.Launch != nil {
		return p.opts.Launch(ctx, strings.Fields(command))
	}
	return p.start(command)
}

// start runs command detached from mcod: in a session of its own, with no terminal and
// output discarded, as the plugin's double fork does. A goroutine reaps it.
func (p *Puppet) start(command string) error {
	var cmd *exec.Cmd
	if strings.ContainsAny(command, shellMeta) {
		cmd = exec.Command("/bin/sh", "-c", command)
	} else {
		f := strings.Fields(command)
		if len(f) == 0 {
			return errors.New("empty command")
		}
		bin := f[0]
		if _, err := exec.LookPath(bin); err != nil && bin == "puppet" {
			bin = "/opt/puppetlabs/bin/puppet" // where Puppet's own packages install it
		}
		cmd = exec.Command(bin, f[1:]...)
	}
	env := os.Environ()
	if strings.HasPrefix(command, "puppet ") {
		env = append(env, "PATH="+os.Getenv("PATH")+":/opt/puppetlabs/bin")
	}
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", command, err)
	}
	go func() {
		err := cmd.Wait()
		p.log.Debug("puppet run ended", "command", command, "pid", cmd.Process.Pid, "err", err)
	}()
	return nil
}
