package nettest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"

	"github.com/mcorun/mcorun/runtime/agent"
	"github.com/mcorun/mcorun/runtime/message"
)

// The Ruby agent's reply messages and connect_status values.
const (
	msgCannotResolve = "Cannot resolve hostname"
	msgCannotReach   = "Cannot reach host"

	StatusConnected = "Connected"
	StatusRefused   = "Connection Refused"
	StatusTimeout   = "Connection Timeout"
)

// rttRE finds the round trip time in iputils ping's reply line: "... time=0.045 ms".
var rttRE = regexp.MustCompile(`time[=<]([0-9]+(?:\.[0-9]+)?) ?ms`)

// ping replies rtt, the round trip time in ms as a float, or fails with the Ruby agent's
// messages: "Cannot resolve hostname", or "Cannot reach host" when no echo reply came
// (ping exits 1). When ping could not run or failed otherwise, the message says why after
// "Cannot reach host: ".
func (n *nettest) ping(ctx context.Context, req *agent.Request, rep *agent.Reply) {
	fqdn, _ := req.Data["fqdn"].(string)
	addr, ok := n.address(ctx, fqdn)
	if !ok {
		rep.Fail(message.Aborted, msgCannotResolve)
		return
	}
	wait := int(math.Ceil(n.remaining(ctx, n.opts.PingTimeout).Seconds()))
	if wait < 1 {
		rep.Fail(message.Aborted, msgCannotReach+": no time left for the request")
		return
	}
	stdout, stderr, exit, err := n.opts.Run(ctx, n.opts.PingCommand, "-n", "-c", "1", "-W", strconv.Itoa(wait), "--", addr)
	switch {
	case err != nil:
		rep.Fail(message.Aborted, msgCannotReach+": "+err.Error()+" (is iputils-ping installed? see plugin.nettest.ping_command)")
		return
	case exit == 1:
		rep.Fail(message.Aborted, msgCannotReach)
		return
	case exit != 0:
		rep.Fail(message.Aborted, msgCannotReach+": "+n.opts.PingCommand+" exited "+strconv.Itoa(exit)+": "+firstLine(stderr))
		return
	}
	m := rttRE.FindSubmatch(stdout)
	if m == nil {
		rep.Fail(message.Aborted, msgCannotReach+": no round trip time in "+n.opts.PingCommand+"'s output")
		return
	}
	rtt, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		rep.Fail(message.Aborted, msgCannotReach+": "+err.Error())
		return
	}
	rep.Data["rtt"] = rtt
}

// connect replies connect (bool), connect_status ("Connected", "Connection Refused" for any
// failure to connect, "Connection Timeout" when ConnectTimeout passed) and connect_time (the
// seconds the connect took, a float, nil unless connected), as the Ruby agent does; only a
// name that does not resolve fails the reply.
func (n *nettest) connect(ctx context.Context, req *agent.Request, rep *agent.Reply) {
	fqdn, _ := req.Data["fqdn"].(string)
	port, portOK := intValue(req.Data["port"])
	addr, ok := n.address(ctx, fqdn)
	if !ok {
		rep.Fail(message.Aborted, msgCannotResolve)
		return
	}
	rep.Data["connect"] = false
	rep.Data["connect_time"] = nil
	if !portOK || port < 0 || port > 65535 {
		rep.Data["connect_status"] = StatusRefused // TCPSocket.new raises on such a port
		return
	}
	dctx, cancel := n.opts.Clock.WithTimeout(ctx, n.opts.ConnectTimeout)
	defer cancel()
	start := n.opts.Clock.Now()
	conn, err := n.opts.Dial(dctx, "tcp", net.JoinHostPort(addr, strconv.FormatInt(port, 10)))
	elapsed := n.opts.Clock.Now().Sub(start)
	switch {
	case err == nil:
		_ = conn.Close()
		rep.Data["connect"] = true
		rep.Data["connect_status"] = StatusConnected
		rep.Data["connect_time"] = elapsed.Seconds()
	case errors.Is(dctx.Err(), context.DeadlineExceeded) || isTimeout(err):
		rep.Data["connect_status"] = StatusTimeout
	default:
		rep.Data["connect_status"] = StatusRefused
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// intValue reads a validated integer input, whatever integer type decoding gave it (any
// Go integer or a *big.Int, all printed in decimal); ok is false beyond int64.
func intValue(v any) (n int64, ok bool) {
	n, err := strconv.ParseInt(fmt.Sprint(v), 10, 64)
	return n, err == nil
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}
