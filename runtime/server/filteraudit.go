package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mcorun/mcorun/runtime/message"
)

// Discovery requests and the data plugin calls of filters run before authorization and are
// never in the rpcaudit log, which records SimpleRPC actions. The node logs them instead, at
// info level as "audit" lines, at most auditBurst lines per auditWindow; the lines over that
// are counted, and the count is logged with the next line after the window.
const (
	auditWindow = time.Minute
	auditBurst  = 60
	// maxAuditCall bounds the text of one data plugin call in an audit line, in bytes.
	maxAuditCall = 256
)

// auditLimiter allows auditBurst lines per auditWindow and counts the rest.
type auditLimiter struct {
	mu         sync.Mutex
	start      time.Time
	n          int
	suppressed int
}

// allow reports whether a line may be logged at now, and how many lines were suppressed
// since the last one logged.
func (l *auditLimiter) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= auditWindow {
		l.start, l.n = now, 0
	}
	if l.n >= auditBurst {
		l.suppressed++
		return false, 0
	}
	l.n++
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

// dataCalls records the data plugin calls a filter makes.
type dataCalls struct {
	node
	calls []string
}

func (d *dataCalls) Data(ctx context.Context, plugin string, query any) (map[string]any, error) {
	out, err := d.node.Data(ctx, plugin, query)
	call := fmt.Sprintf("%s(%q)", plugin, fmt.Sprint(query))
	if query == nil {
		call = plugin + "()"
	}
	if err != nil {
		call += " failed: " + err.Error()
	}
	if len(call) > maxAuditCall {
		call = call[:maxAuditCall] + "..."
	}
	d.calls = append(d.calls, call)
	return out, err
}

// auditLine logs one audit line about req, rate-limited.
func (s *Server) auditLine(msg string, req *message.Request, attrs ...any) {
	ok, suppressed := s.auditRate.allow(s.opts.Now())
	if !ok {
		return
	}
	attrs = append(attrs, "requestid", req.RequestID, "callerid", req.CallerID, "senderid", req.SenderID,
		"agent", req.Agent, "collective", req.Collective)
	if suppressed > 0 {
		attrs = append(attrs, "suppressed_before", suppressed)
	}
	s.log.Info("audit: "+msg, attrs...)
}
