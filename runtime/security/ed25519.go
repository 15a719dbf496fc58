package security

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/message"
)

// ErrExpired means a request's msgtime is too far in the future or its TTL has run out, or
// its TTL is outside what the provider accepts.
var ErrExpired = errors.New("security: request outside its validity window")

// Defaults of the ed25519 provider's settings.
const (
	DefaultEd25519Dir       = "/etc/mcollective/ed25519"
	DefaultClockSkew        = 30 * time.Second
	DefaultMaxTTL           = time.Hour
	DefaultReplayCacheSize  = 1 << 18
	ed25519CallerPrefix     = "ed25519="
	ed25519PrivateKeySuffix = ".key"
	ed25519PublicKeySuffix  = ".pub"
	// maxRequestIDLen bounds a request id, which the replay cache keeps in memory. Clients
	// send 32 hex characters.
	maxRequestIDLen = 64
)

// Ed25519 is a security provider for fleets that run only mcod and mcorun. It is not
// compatible with MCollective.
//
// Each caller has its own Ed25519 key; its callerid is "ed25519=<name>". A request's :hash
// is the Base64 signature of the canonical encoding of the whole envelope (body, callerid,
// senderid, requestid, agent, collective, ttl, msgtime and filter; see canonical.go), so
// none of them can be changed in transit. A node verifies it with
// <trusted_clients>/<name>.pub, refuses a msgtime more than the clock skew in the future or
// older than ttl + skew, and refuses a requestid it has already accepted (replay). A reply
// is signed by the node's key over its senderid, requestid, senderagent, msgtime and body;
// the client verifies it with <trusted_servers>/<senderid>.pub.
//
// Settings (plugin.ed25519.*): key (this process's private key, required), name (default:
// the key file's base name without ".key"), trusted_clients (default
// /etc/mcollective/ed25519/clients), trusted_servers (default
// /etc/mcollective/ed25519/servers), clock_skew (seconds, default 30), max_ttl (seconds,
// default 3600) and replay_cache_size (default 262144). Trust stores are read on every
// message, so adding or removing a .pub file takes effect at once. A node keeps its replay
// cache across restarts with PersistReplays.
type Ed25519 struct {
	priv           ed25519.PrivateKey
	name           string
	trustedClients string
	trustedServers string
	skew           int64 // seconds
	maxTTL         int64 // seconds
	replay         *replayCache
	now            func() time.Time
}

var _ Provider = (*Ed25519)(nil)

// NewEd25519 builds the ed25519 provider from cfg's plugin.ed25519.* settings. The private
// key file must be PKCS#8 PEM and must not be readable by group or others.
func NewEd25519(cfg *config.Config) (*Ed25519, error) {
	if cfg == nil {
		return nil, errors.New("security: ed25519: no configuration")
	}
	keyFile := cfg.PluginString("ed25519.key", "")
	if keyFile == "" {
		return nil, fmt.Errorf("security: ed25519: no private key: set plugin.ed25519.key in %s (mcorun keygen makes one)", cfg.ConfigFile)
	}
	priv, err := LoadEd25519PrivateKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("security: ed25519: plugin.ed25519.key: %w", err)
	}
	name := cfg.PluginString("ed25519.name", strings.TrimSuffix(filepath.Base(keyFile), ed25519PrivateKeySuffix))
	if !ValidKeyName(name) {
		return nil, fmt.Errorf("security: ed25519: key name %q: want letters, digits, '_', '-' and '.', not starting with '.'; set plugin.ed25519.name", name)
	}
	p := &Ed25519{
		priv:           priv,
		name:           name,
		trustedClients: cfg.PluginString("ed25519.trusted_clients", filepath.Join(DefaultEd25519Dir, "clients")),
		trustedServers: cfg.PluginString("ed25519.trusted_servers", filepath.Join(DefaultEd25519Dir, "servers")),
		now:            time.Now,
	}
	for _, s := range []struct {
		key string
		def time.Duration
		dst *int64
	}{{"ed25519.clock_skew", DefaultClockSkew, &p.skew}, {"ed25519.max_ttl", DefaultMaxTTL, &p.maxTTL}} {
		n, err := cfg.PluginInt(s.key, int(s.def/time.Second))
		if err != nil {
			return nil, fmt.Errorf("security: ed25519: %w", err)
		}
		if n < 0 || n > math.MaxInt32 {
			return nil, fmt.Errorf("security: ed25519: plugin.%s = %d: want 0 to %d seconds", s.key, n, math.MaxInt32)
		}
		*s.dst = int64(n)
	}
	size, err := cfg.PluginInt("ed25519.replay_cache_size", DefaultReplayCacheSize)
	if err != nil {
		return nil, fmt.Errorf("security: ed25519: %w", err)
	}
	if size < 1 {
		return nil, fmt.Errorf("security: ed25519: plugin.ed25519.replay_cache_size = %d: want at least 1", size)
	}
	p.replay = newReplayCache(size)
	return p, nil
}

// PersistReplays keeps the replay cache in dir, so that a request accepted before a restart
// is still refused after it: the ids of dir's replay log that have not expired are loaded,
// and every id accepted from now on is written there before its request is accepted. A
// node calls it once, before it verifies any request; dir is created (mode 0700) if needed.
// Close writes the log to disk.
func (p *Ed25519) PersistReplays(dir string) error {
	if err := p.replay.openLog(dir, p.now().Unix()); err != nil {
		return fmt.Errorf("security: ed25519: replay log in %s: %w", dir, err)
	}
	return nil
}

// Close fsyncs and closes the replay log, if PersistReplays opened one.
func (p *Ed25519) Close() error { return p.replay.closeLog() }

// LoadEd25519PrivateKey reads a PKCS#8 PEM Ed25519 private key, refusing a file that group
// or others may access.
func LoadEd25519PrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := readKeyFile(path, true, 0o700)
	if err != nil {
		return nil, err
	}
	k, err := parsePrivate(b, path)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not an Ed25519 private key", ErrKeyFile, path)
	}
	return ek, nil
}

// LoadEd25519PublicKey reads a PKIX PEM Ed25519 public key.
func LoadEd25519PublicKey(path string) (ed25519.PublicKey, error) {
	b, err := readKeyFile(path, false, 0)
	if err != nil {
		return nil, err
	}
	k, err := parsePublic(b, path)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not an Ed25519 public key", ErrKeyFile, path)
	}
	return ek, nil
}

// Name returns "ed25519".
func (p *Ed25519) Name() string { return "ed25519" }

// CallerID returns "ed25519=<name>".
func (p *Ed25519) CallerID() string { return ed25519CallerPrefix + p.name }

// String describes the provider without key material.
func (p *Ed25519) String() string { return "ed25519(callerid=" + p.CallerID() + ")" }

// GoString is String, so %#v shows no key material.
func (p *Ed25519) GoString() string { return p.String() }

// Format prints String for every verb, so no format shows key material.
func (p Ed25519) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// trusted loads <dir>/<name>.pub; a missing file, or a file or dir writable by group or
// others, wraps ErrUnknownCaller.
func trusted(dir, name, what string) (ed25519.PublicKey, error) {
	if !ValidKeyName(name) {
		return nil, fmt.Errorf("%w for %s %q: not a valid key name", ErrUnknownCaller, what, clip(name))
	}
	path := filepath.Join(dir, name+ed25519PublicKeySuffix)
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w for %s %q: %s does not exist", ErrUnknownCaller, what, name, path)
	}
	// A key that someone other than the owner could have written is no trust anchor.
	if err == nil && fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("%w for %s %q: %s has mode %04o; it must not be writable by group or others", ErrUnknownCaller, what, name, path, fi.Mode().Perm())
	}
	if di, err := os.Stat(dir); err == nil && di.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("%w for %s %q: trust store %s has mode %04o; it must not be writable by group or others", ErrUnknownCaller, what, name, dir, di.Mode().Perm())
	}
	k, err := LoadEd25519PublicKey(path)
	if err != nil {
		return nil, fmt.Errorf("%w for %s %q: %w", ErrUnknownCaller, what, name, err)
	}
	return k, nil
}

// decodeSig decodes a Base64 signature of exactly ed25519.SignatureSize bytes.
func decodeSig(s string) ([]byte, bool) {
	if len(s) != base64.StdEncoding.EncodedLen(ed25519.SignatureSize) {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil && len(b) == ed25519.SignatureSize
}

// SignRequest signs the canonical encoding of the whole envelope. The envelope is first
// round-tripped through its Marshal encoding so that the filter is signed exactly as nodes
// will decode it. req.CallerID must be this provider's CallerID.
func (p *Ed25519) SignRequest(req *message.Request) error {
	if req == nil {
		return errors.New("security: ed25519: sign nil request")
	}
	if req.CallerID != p.CallerID() {
		return fmt.Errorf("security: ed25519: request callerid %q is not this key's %q", clip(req.CallerID), p.CallerID())
	}
	req.Hash = ""
	wire, err := req.Encode()
	if err != nil {
		return fmt.Errorf("security: ed25519: encode request: %w", err)
	}
	seen, err := message.DecodeRequest(wire)
	if err != nil {
		return fmt.Errorf("security: ed25519: encode request: %w", err)
	}
	b, err := requestSigningBytes(seen)
	if err != nil {
		return err
	}
	req.Hash = base64.StdEncoding.EncodeToString(ed25519.Sign(p.priv, b))
	return nil
}

// VerifyRequest checks the signature with the caller's trusted key, then the validity window
// and the replay cache. Failures wrap ErrBadCallerID, ErrUnknownCaller, ErrBadSignature,
// ErrExpired or ErrReplay. On success req.CallerID is the verified "ed25519=<name>".
func (p *Ed25519) VerifyRequest(req *message.Request) error {
	if req == nil {
		return errors.New("security: ed25519: verify nil request")
	}
	name, ok := strings.CutPrefix(req.CallerID, ed25519CallerPrefix)
	if !ok || !ValidCallerID(req.CallerID) {
		return fmt.Errorf("%w %q on request %q from %q: the ed25519 provider wants ed25519=<name>", ErrBadCallerID, clip(req.CallerID), clip(req.RequestID), clip(req.SenderID))
	}
	switch {
	case req.RequestID == "":
		return fmt.Errorf("%w: request from %q (callerid %s) has no requestid", ErrBadSignature, clip(req.SenderID), req.CallerID)
	case len(req.RequestID) > maxRequestIDLen:
		return fmt.Errorf("%w: request %q from %q (callerid %s): requestid longer than %d bytes", ErrBadSignature, clip(req.RequestID), clip(req.SenderID), req.CallerID, maxRequestIDLen)
	}
	pub, err := trusted(p.trustedClients, name, "caller")
	if err != nil {
		return err
	}
	sig, ok := decodeSig(req.Hash)
	if !ok {
		return fmt.Errorf("%w on request %q from %q (callerid %s): malformed signature", ErrBadSignature, clip(req.RequestID), clip(req.SenderID), req.CallerID)
	}
	b, err := requestSigningBytes(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if !ed25519.Verify(pub, b, sig) {
		return fmt.Errorf("%w on request %q from %q (callerid %s)", ErrBadSignature, clip(req.RequestID), clip(req.SenderID), req.CallerID)
	}
	now := p.now().Unix()
	switch {
	case req.TTL < 0 || req.TTL > p.maxTTL:
		return fmt.Errorf("%w: request %q ttl %d is not within 0..%d (plugin.ed25519.max_ttl)", ErrExpired, clip(req.RequestID), req.TTL, p.maxTTL)
	case req.MsgTime > now+p.skew:
		return fmt.Errorf("%w: request %q msgtime %d is %d s in the future, more than the clock skew of %d s", ErrExpired, clip(req.RequestID), req.MsgTime, req.MsgTime-now, p.skew)
	case req.MsgTime < now-req.TTL-p.skew: // not now-MsgTime, which overflows for a MsgTime far in the past
		return fmt.Errorf("%w: request %q created at %d is older than ttl %d + clock skew %d", ErrExpired, clip(req.RequestID), req.MsgTime, req.TTL, p.skew)
	}
	fresh, err := p.replay.add(req.RequestID, req.MsgTime+req.TTL+p.skew, now)
	if err != nil {
		return fmt.Errorf("%w: request %q: %w", ErrReplay, clip(req.RequestID), err)
	}
	if !fresh {
		return fmt.Errorf("%w: request %q from %q (callerid %s) was already seen", ErrReplay, clip(req.RequestID), clip(req.SenderID), req.CallerID)
	}
	return nil
}

// SignReply signs the reply's canonical encoding with this node's key. Clients verify it
// with <trusted_servers>/<senderid>.pub, so the key's name should be the node's identity.
func (p *Ed25519) SignReply(rep *message.Reply) error {
	if rep == nil {
		return errors.New("security: ed25519: sign nil reply")
	}
	if rep.CallerID == "" {
		return errors.New("security: ed25519: sign reply: the request's callerid is not set")
	}
	rep.Hash = base64.StdEncoding.EncodeToString(ed25519.Sign(p.priv, replySigningBytes(rep)))
	return nil
}

// VerifyReply checks the reply's signature with <trusted_servers>/<senderid>.pub. Failures
// wrap ErrUnknownCaller or ErrBadSignature.
func (p *Ed25519) VerifyReply(rep *message.Reply) error {
	if rep == nil {
		return errors.New("security: ed25519: verify nil reply")
	}
	pub, err := trusted(p.trustedServers, rep.SenderID, "server")
	if err != nil {
		return err
	}
	// The reply must answer this client's own request: verify it as addressed to us.
	mine := *rep
	mine.CallerID = p.CallerID()
	sig, ok := decodeSig(rep.Hash)
	if !ok || !ed25519.Verify(pub, replySigningBytes(&mine), sig) {
		return fmt.Errorf("%w on reply to %q from %q", ErrBadSignature, clip(rep.RequestID), clip(rep.SenderID))
	}
	return nil
}
