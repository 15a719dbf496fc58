package security

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/message"
)

// PSK is MCollective's psk security provider: Hash = lowercase hex MD5(Body ‖ psk).
// Its String and Format methods never show the key.
type PSK struct {
	key      []byte
	callerID string
}

var _ Provider = (*PSK)(nil)

// NewPSK builds the psk provider from cfg. The key is the environment variable MCOLLECTIVE_PSK
// when set (read through cfg.Env, so tests can inject it), otherwise plugin.psk. The callerid
// follows plugin.psk.callertype: uid (the default) gives "uid=<uid>", gid "gid=<gid>", group
// "group=<group name>", user "user=<login name>" and identity "identity=<cfg.Identity>".
func NewPSK(cfg *config.Config) (*PSK, error) {
	if cfg == nil {
		return nil, errors.New("security: psk: no configuration")
	}
	key, ok := cfg.Env("MCOLLECTIVE_PSK")
	if !ok {
		key, ok = cfg.Plugin["psk"]
	}
	if !ok {
		return nil, fmt.Errorf("security: psk: no pre-shared key: set plugin.psk in %s or the MCOLLECTIVE_PSK environment variable", cfg.ConfigFile)
	}
	if key == "" {
		return nil, errors.New("security: psk: the pre-shared key is empty: set plugin.psk or MCOLLECTIVE_PSK")
	}
	id, err := callerID(cfg)
	if err != nil {
		return nil, err
	}
	if err := CheckCallerID(id); err != nil {
		return nil, fmt.Errorf("security: psk: callertype %s: %w", cfg.PluginString("psk.callertype", "uid"), err)
	}
	return &PSK{key: []byte(key), callerID: id}, nil
}

// callerID computes psk.rb's callerid for plugin.psk.callertype.
func callerID(cfg *config.Config) (string, error) {
	switch ct := cfg.PluginString("psk.callertype", "uid"); ct {
	case "uid":
		return "uid=" + strconv.Itoa(os.Getuid()), nil
	case "gid":
		return "gid=" + strconv.Itoa(os.Getgid()), nil
	case "group":
		g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
		if err != nil {
			return "", fmt.Errorf("security: psk: callertype group: %w", err)
		}
		return "group=" + g.Name, nil
	case "user":
		// Ruby's Etc.getlogin falls back to $USER when getlogin(3) has no answer; Go has no
		// getlogin, so $USER comes first and the account of the real uid second.
		if name, ok := cfg.Env("USER"); ok && name != "" {
			return "user=" + name, nil
		}
		u, err := user.LookupId(strconv.Itoa(os.Getuid()))
		if err != nil {
			return "", fmt.Errorf("security: psk: callertype user: %w", err)
		}
		return "user=" + u.Username, nil
	case "identity":
		return "identity=" + cfg.Identity, nil
	default:
		return "", fmt.Errorf("security: psk: plugin.psk.callertype %q is not one of uid, gid, group, user, identity", ct)
	}
}

// Name returns "psk".
func (p *PSK) Name() string { return "psk" }

// CallerID returns the callerid chosen by plugin.psk.callertype.
func (p *PSK) CallerID() string { return p.callerID }

// String describes the provider without its key.
func (p *PSK) String() string { return "psk(callerid=" + p.callerID + ")" }

// GoString is String, so %#v does not show the key.
func (p *PSK) GoString() string { return p.String() }

// Format prints String for every verb, so no format shows the key.
func (p PSK) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// hash returns lowercase hex MD5(body ‖ key).
func (p *PSK) hash(body []byte) string {
	h := md5.New()
	h.Write(body)
	h.Write(p.key)
	return hex.EncodeToString(h.Sum(nil))
}

// verify compares the expected hash of body with got in constant time.
func (p *PSK) verify(body []byte, got string) bool {
	return subtle.ConstantTimeCompare([]byte(p.hash(body)), []byte(got)) == 1
}

// SignRequest sets req.Hash from req.Body.
func (p *PSK) SignRequest(req *message.Request) error {
	if req == nil {
		return errors.New("security: psk: sign nil request")
	}
	req.Targets = nil // not in MCollective's envelope, and psk could not sign it
	req.Hash = p.hash(req.Body)
	return nil
}

// VerifyRequest checks req.Hash against req.Body, then req.CallerID as message.rb does before
// running a request.
func (p *PSK) VerifyRequest(req *message.Request) error {
	if req == nil {
		return errors.New("security: psk: verify nil request")
	}
	if !p.verify(req.Body, req.Hash) {
		return fmt.Errorf("%w on request %q from %q", ErrBadSignature, clip(req.RequestID), clip(req.SenderID))
	}
	if !ValidCallerID(req.CallerID) {
		return fmt.Errorf("%w %q on request %q from %q", ErrBadCallerID, clip(req.CallerID), clip(req.RequestID), clip(req.SenderID))
	}
	return nil
}

// SignReply sets rep.Hash from rep.Body.
func (p *PSK) SignReply(rep *message.Reply) error {
	if rep == nil {
		return errors.New("security: psk: sign nil reply")
	}
	rep.Hash = p.hash(rep.Body)
	return nil
}

// VerifyReply checks rep.Hash against rep.Body.
func (p *PSK) VerifyReply(rep *message.Reply) error {
	if rep == nil {
		return errors.New("security: psk: verify nil reply")
	}
	if !p.verify(rep.Body, rep.Hash) {
		return fmt.Errorf("%w on reply to %q from %q", ErrBadSignature, clip(rep.RequestID), clip(rep.SenderID))
	}
	return nil
}

// clip shortens an untrusted string before it goes into an error message.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// PSKFor is the psk provider of identity with key, for fleets that run in one process (the
// sandbox, the test fleet): no config file, and no environment override.
func PSKFor(identity, key string) (*PSK, error) {
	cfg := config.Defaults("psk")
	cfg.Identity = identity
	cfg.Plugin["psk"] = key
	cfg.LookupEnv = func(string) (string, bool) { return "", false }
	return NewPSK(cfg)
}
