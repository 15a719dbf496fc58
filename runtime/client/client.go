// Package client is the Go API under mcorun: it discovers nodes and calls agents over an
// MCollective 2.12 collective, and returns replies as plain values: the nodes that succeeded,
// the nodes that failed and the nodes that never answered.
//
// Everything takes a context.Context, and per-call options are passed per call, never stored
// on the Client.
package client
