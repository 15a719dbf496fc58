// Package security signs and verifies MCollective request and reply envelopes.
//
// A Provider is chosen by the securityprovider setting:
//   - "psk" is MCollective's: an MD5 digest over the inner body bytes and a pre-shared key
//     (security/psk.rb). It authenticates only the body; ttl, msgtime, filter, callerid and
//     senderid are not covered, and every holder of the key can call as anyone.
//   - "ssl" is MCollective's: RSA signatures by per-client keys over the body, TTL and
//     msgtime, with replies signed by a shared server key (security/ssl.rb).
//   - "ed25519" is this project's own, for fleets of only mcod and mcorun: Ed25519
//     signatures over the whole envelope, per-node reply keys and replay protection.
package security

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/message"
)

// Provider signs outgoing envelopes and verifies incoming ones. Sign methods set Hash (ssl's
// SignRequest also wraps Body); Verify methods check Hash against the envelope exactly as
// received. A VerifyRequest that succeeds leaves req as the node should act on it: Body the
// inner body, TTL and MsgTime the signed values, and CallerID the verified caller, which
// authorization and audit then rely on.
type Provider interface {
	// Name is the provider's securityprovider value, e.g. "psk".
	Name() string
	// CallerID is the callerid this process sends as a client, e.g. "uid=1000".
	CallerID() string
	// SignRequest sets req.Hash. A provider that does not sign req.Targets clears it, so
	// that its envelopes stay MCollective's.
	SignRequest(req *message.Request) error
	// VerifyRequest checks req.Hash and req.CallerID; failures wrap ErrBadSignature or
	// ErrBadCallerID.
	VerifyRequest(req *message.Request) error
	// SignReply sets rep.Hash.
	SignReply(rep *message.Reply) error
	// VerifyReply checks rep.Hash; a mismatch wraps ErrBadSignature.
	VerifyReply(rep *message.Reply) error
}

// ErrBadSignature means an envelope's hash does not match its body.
var ErrBadSignature = errors.New("security: bad signature")

// ErrBadCallerID means a callerid is not of the form "type=value" (see ValidCallerID).
var ErrBadCallerID = errors.New("security: invalid callerid")

// callerIDRE is security/base.rb's valid_callerid? with Ruby's ASCII \w.
var callerIDRE = regexp.MustCompile(`^[A-Za-z0-9_]+=[A-Za-z0-9_.\-]+$`)

// ValidCallerID reports whether s is a callerid MCollective accepts, such as "uid=0" or
// "cert=host.example": word characters, '=', then word characters, '.' or '-'.
func ValidCallerID(s string) bool {
	return callerIDRE.MatchString(s)
}

// CheckCallerID returns nil for a valid callerid and otherwise an error wrapping ErrBadCallerID
// that quotes s.
func CheckCallerID(s string) error {
	if ValidCallerID(s) {
		return nil
	}
	return fmt.Errorf("%w %q", ErrBadCallerID, s)
}

// New returns the provider named by cfg.SecurityProvider.
func New(cfg *config.Config) (Provider, error) {
	if cfg == nil {
		return nil, errors.New("security: no configuration")
	}
	switch strings.ToLower(cfg.SecurityProvider) {
	case "psk":
		return NewPSK(cfg)
	case "ssl":
		return NewSSL(cfg)
	case "ed25519":
		return NewEd25519(cfg)
	default:
		return nil, fmt.Errorf("security: security provider %q is not supported; set securityprovider to psk, ssl or ed25519", cfg.SecurityProvider)
	}
}
