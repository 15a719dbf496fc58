package connector

import "fmt"

// BroadcastDest returns the destination of broadcast requests for agent in
// collective: /exchange/<collective>_broadcast/<agent>. Clients send there and
// servers subscribe there, once per agent per collective.
func BroadcastDest(collective, agent string) string {
	return "/exchange/" + collective + "_broadcast/" + agent
}

// DirectedDest returns the destination of requests addressed to one node:
// /exchange/<collective>_directed/<identity>. Clients send there and the node
// with that identity subscribes there.
func DirectedDest(collective, identity string) string {
	return "/exchange/" + collective + "_directed/" + identity
}

// TempReplyName returns the RabbitMQ temp-queue name a client uses for the
// replies to requests for agent: mcollective_reply_<agent>. The collective is
// not part of the name. Pass it to [Conn.SubscribeTemp]; the reply-to header
// of the request is then [TempQueueDest] of it.
func TempReplyName(agent string) string {
	return "mcollective_reply_" + agent
}

// TempQueueDest returns the reply-to destination for the temp-queue name:
// /temp-queue/<name>.
func TempQueueDest(name string) string {
	return "/temp-queue/" + name
}

// ReplyExchangeDest returns the reply destination used when a client has
// use_reply_exchange set: /exchange/mcollective_reply/<identity>_<pid>_<seq>.
// The exchange name is fixed, whatever the collective.
func ReplyExchangeDest(identity string, pid, seq int) string {
	return fmt.Sprintf("/exchange/mcollective_reply/%s_%d_%d", identity, pid, seq)
}
