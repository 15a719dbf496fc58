package connector

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/go-stomp/stomp/v3/frame"
)

// BrokerError is an ERROR frame: the broker refused a frame (a SUBSCRIBE or SEND to an
// exchange that does not exist, a login) and closed the connection.
type BrokerError struct {
	Message string // the message header, such as RabbitMQ's "not_found"
	Detail  string // the body, such as "NOT_FOUND - no exchange 'x' in vhost '/mcollective'"
	// Exchange and VHost name the missing exchange when the broker said one does not exist.
	Exchange string
	VHost    string
}

// missingExchange matches RabbitMQ's text for an exchange that does not exist.
var missingExchange = regexp.MustCompile(`no exchange '([^']*)' in vhost '([^']*)'`)

// maxDetail bounds how much of an ERROR frame's body an error keeps.
const maxDetail = 512

func newBrokerError(f *frame.Frame) *BrokerError {
	detail := strings.TrimSpace(string(f.Body))
	if len(detail) > maxDetail {
		detail = detail[:maxDetail] + "..."
	}
	e := &BrokerError{Message: f.Header.Get(frame.Message), Detail: detail}
	if m := missingExchange.FindStringSubmatch(detail); m != nil {
		e.Exchange, e.VHost = m[1], m[2]
	}
	return e
}

func (e *BrokerError) Error() string {
	var b strings.Builder
	b.WriteString("the broker sent ERROR")
	if e.Message != "" {
		fmt.Fprintf(&b, " %q", e.Message)
	}
	if e.Detail != "" && e.Detail != e.Message {
		b.WriteString(": " + e.Detail)
	}
	if h := e.Hint(); h != "" {
		b.WriteString("; " + h)
	}
	return b.String()
}

// Hint says what to do about the refusal: for a missing exchange, the commands that declare
// it. Empty when there is no advice.
func (e *BrokerError) Hint() string {
	if e.Exchange == "" {
		return ""
	}
	typ := ExchangeType(e.Exchange)
	return fmt.Sprintf("exchange %s does not exist in vhost %s: declare it with "+
		"`rabbitmqadmin --vhost=%s declare exchange name=%s type=%s durable=true` or "+
		"`curl -u USER:PASSWORD -X PUT -H 'content-type: application/json' -d '{\"type\":\"%s\",\"durable\":true}' "+
		"http://BROKER:15672/api/exchanges/%s/%s`",
		e.Exchange, e.VHost, e.VHost, e.Exchange, typ, typ, url.PathEscape(e.VHost), url.PathEscape(e.Exchange))
}

// ExchangeType is the RabbitMQ exchange type MCollective's connector expects for an exchange
// name: topic for <collective>_broadcast, direct for <collective>_directed and
// mcollective_reply.
func ExchangeType(name string) string {
	if strings.HasSuffix(name, "_broadcast") {
		return "topic"
	}
	return "direct"
}
