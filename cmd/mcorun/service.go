package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mcorun/mcorun/runtime/client"
)

const serviceUsage = `Usage:
  mcorun service [filters] [flags] SERVICE ACTION
  mcorun service [filters] [flags] ACTION SERVICE

ACTION can be one of the following, as for mco service:

  start    start the service
  stop     stop the service
  restart  restart or reload the service
  status   determine the current status of the service

status lists every node with the service's status. start, stop and restart
list only the nodes where the service did not end up in the expected state
(running, or stopped after stop) and the nodes that failed, with their
message; -v lists every node. Then comes the summary of the service statuses.

start, stop and restart without a filter act on every node: they ask first
on a terminal, and without one they refuse unless --yes is given.

Examples:
  mcorun service nginx status
  mcorun service restart nginx -C web::nginx
  mcorun service nginx stop -I web03.dc1.example.net
  mcorun service nginx restart --batch 2 --batch-sleep 5 -F role=web
  mcorun service nginx status --json | jq '.replies[] | {sender, status: .data.status}'
`

// serviceActions are the actions of mcorun service, in mco's order.
var serviceActions = []string{"start", "stop", "restart", "status"}

func serviceCommand() *command {
	return &command{name: "service", summary: "start, stop, restart and query system services", usage: serviceUsage, run: runService}
}

func runService(ctx context.Context, e *env, args []string) int {
	var c commonFlags
	var yes bool
	fs := newFlagSet("service", &c)
	fs.BoolVarP(&yes, "yes", "y", false, "assume yes on any prompt (acting on every node unfiltered)")
	if done, err := parseFlags(e, fs, serviceUsage, args); done {
		return exitOK
	} else if err != nil {
		return usageErr(e, "service", err)
	}
	name, action, err := serviceOperands(fs)
	if err != nil {
		return usageErr(e, "service", err)
	}
	req := actRequest{agent: "service", action: action, args: map[string]any{"service": name},
		changes: action != "status", noun: "services"}
	s, fl, act, closeFn, code, ok := actStart(ctx, e, "service", &c, yes, req)
	if !ok {
		return code
	}
	defer closeFn()
	cr, code, done := discoverAndCall(ctx, s, fl, "service", action, req.args, true)
	if done {
		return code
	}
	if !c.json {
		fmt.Fprint(e.stdout, serviceLines(s.color, action, c.verbose, cr.replies))
	}
	return finishCall(s, "service", action, act, cr)
}

// serviceOperands reads SERVICE ACTION or ACTION SERVICE, as mco service does.
func serviceOperands(fs *pflag.FlagSet) (name, action string, err error) {
	if fs.NArg() < 2 {
		return "", "", errors.New("please specify service name and action, e.g. 'mcorun service nginx status'")
	}
	if fs.NArg() > 2 {
		return "", "", fmt.Errorf("unexpected arguments %q: give one service name and one action", fs.Args()[2:])
	}
	a, b := fs.Arg(0), fs.Arg(1)
	switch {
	case slices.Contains(serviceActions, a):
		return b, a, nil
	case slices.Contains(serviceActions, b):
		return a, b, nil
	}
	return "", "", fmt.Errorf("action has to be one of %s", strings.Join(serviceActions, ", "))
}

// serviceLines is mco service's listing: every node for status (and with -v), else only the
// nodes whose service is not in the state the action asked for.
func serviceLines(c colorizer, action string, verbose bool, replies []client.Result) string {
	expected := map[string]string{"start": "running", "restart": "running", "stop": "stopped"}[action]
	return senderLines(c, replies, func(r client.Result) (string, bool) {
		status := rubyString(r.Data["status"])
		return status, verbose || action == "status" || status != expected
	})
}
