// Package nettest is the nettest agent of mcod, compatible with choria-plugins' nettest-agent
// 4.1: ping (the round trip time to a host, in ms) and connect (whether a TCP connection to a
// host's port can be made, with its status string and time in seconds), with the same inputs,
// outputs, status codes and messages.
//
// ping runs the system's ping (iputils: `ping -n -c 1 -W SECONDS ADDRESS`) through
// Options.Run and reads the rtt from its "time=N ms" line. The Ruby agent sends its own ICMP
// echo, which needs root; iputils' ping works as root and, being setuid or holding
// cap_net_raw as Debian installs it, for other users too, while Go's unprivileged ICMP
// sockets need net.ipv4.ping_group_range to include the user, which it does not by default.
package nettest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"time"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/clock"
	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/ddl"
)

// RunFunc runs a command with argv (never through a shell) and returns its output and exit
// status. err is set only when the command could not be run at all (not found, ctx ended).
type RunFunc func(ctx context.Context, name string, args ...string) (stdout, stderr []byte, exit int, err error)

// Options configure the agent. DefaultOptions gives the Ruby agent's timings and
// OptionsFromConfig reads the plugin.nettest.* keys over them.
type Options struct {
	// PingCommand is the ping executable (plugin.nettest.ping_command), iputils' ping.
	PingCommand string
	// PingTimeout is how long ping waits for the echo reply (plugin.nettest.ping_timeout,
	// seconds): 5, as Net::Ping's default. It is cut to what is left of the request's time.
	PingTimeout time.Duration
	// ConnectTimeout bounds the TCP connect (plugin.nettest.connect_timeout, seconds): 2, as
	// in the Ruby agent. It is cut to what is left of the request's time.
	ConnectTimeout time.Duration

	// Clock times connects and their timeout; nil is clock.Real{}.
	Clock clock.Clock
	// Run runs ping; nil is RunExec.
	Run RunFunc
	// Resolve returns the addresses of a host name; nil is net.DefaultResolver.LookupHost.
	Resolve func(ctx context.Context, host string) ([]string, error)
	// Dial makes the TCP connection; nil is a net.Dialer's DialContext.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// DefaultOptions returns the Ruby agent's settings: ping with a 5 second wait, a 2 second
// connect timeout.
func DefaultOptions() Options {
	return Options{PingCommand: "ping", PingTimeout: 5 * time.Second, ConnectTimeout: 2 * time.Second}
}

// OptionsFromConfig returns DefaultOptions overlaid with cfg's plugin.nettest.ping_command,
// plugin.nettest.ping_timeout and plugin.nettest.connect_timeout (seconds).
func OptionsFromConfig(cfg *config.Config) (Options, error) {
	o := DefaultOptions()
	o.PingCommand = cfg.PluginString("nettest.ping_command", o.PingCommand)
	ping, e1 := cfg.PluginFloat("nettest.ping_timeout", o.PingTimeout.Seconds())
	conn, e2 := cfg.PluginFloat("nettest.connect_timeout", o.ConnectTimeout.Seconds())
	if err := errors.Join(e1, e2); err != nil {
		return Options{}, fmt.Errorf("nettest options: %w", err)
	}
	if ping <= 0 || conn <= 0 {
		return Options{}, errors.New("nettest options: plugin.nettest.ping_timeout and connect_timeout must be positive seconds")
	}
	o.PingTimeout = time.Duration(ping * float64(time.Second))
	o.ConnectTimeout = time.Duration(conn * float64(time.Second))
	return o, nil
}

// New returns the nettest agent. Unset fields of opts take DefaultOptions' values and the
// real OS.
func New(opts Options) (*agent.Agent, error) {
	d, err := ddl.Builtin("nettest")
	if err != nil {
		return nil, fmt.Errorf("nettest agent: %w", err)
	}
	def := DefaultOptions()
	if opts.PingCommand == "" {
		opts.PingCommand = def.PingCommand
	}
	if opts.PingTimeout <= 0 {
		opts.PingTimeout = def.PingTimeout
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = def.ConnectTimeout
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Run == nil {
		opts.Run = RunExec
	}
	if opts.Resolve == nil {
		opts.Resolve = net.DefaultResolver.LookupHost
	}
	if opts.Dial == nil {
		var dialer net.Dialer
		opts.Dial = dialer.DialContext
	}
	n := &nettest{opts: opts}
	return &agent.Agent{DDL: d, Actions: map[string]agent.Action{
		"ping":    n.ping,
		"connect": n.connect,
	}}, nil
}

// RunExec is the real RunFunc, over os/exec.
func RunExec(ctx context.Context, name string, args ...string) (stdout, stderr []byte, exit int, err error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return out.b, errb.b, ee.ExitCode(), nil
	}
	if err != nil {
		return out.b, errb.b, -1, fmt.Errorf("run %s: %w", name, err)
	}
	return out.b, errb.b, 0, nil
}

// limitedBuffer keeps the first 64 KiB written to it; ping writes a few lines.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

type nettest struct{ opts Options }

// address turns the fqdn input into the address to test, as the Ruby agent does: a host
// name is resolved to its first address, anything else (an IPv4 address) is used as it is.
// ok is false when the name does not resolve.
func (n *nettest) address(ctx context.Context, fqdn string) (addr string, ok bool) {
	if !ddl.IsNettestHostname(fqdn) {
		return fqdn, true
	}
	addrs, err := n.opts.Resolve(ctx, fqdn)
	if err != nil || len(addrs) == 0 {
		return "", false
	}
	return addrs[0], true
}

// remaining is d cut to what is left before ctx's deadline.
func (n *nettest) remaining(ctx context.Context, d time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if left := dl.Sub(n.opts.Clock.Now()); left < d {
			return left
		}
	}
	return d
}
