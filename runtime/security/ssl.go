package security

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/mcorun/mcorun/runtime/config"
	"github.com/mcorun/mcorun/runtime/marshal"
	"github.com/mcorun/mcorun/runtime/message"
)

// SSL is MCollective's ssl security provider (security/ssl.rb), compatible on the wire with
// stock mco and mcollectived.
//
// A request's :body on the wire is Marshal({:ssl_msg => body, :ssl_ttl => ttl, :ssl_msgtime
// => msgtime}) and its :hash the Base64 RSA-SHA1 signature of those bytes by the client's
// private key. Its callerid is "cert=<name>", where <name> is the base name of the client's
// public key file without ".pem"; a server verifies with <ssl_client_cert_dir>/<name>.pem.
// A reply's :hash is the signature of its :body by the server private key, which clients
// verify with the shared server public key.
//
// What it protects: the body, TTL and msgtime of a request, and the caller's identity (only
// holders of a trusted private key can sign as cert=<name>). What it does not: senderid,
// requestid, agent, collective and filter are unsigned, so a request seen on the broker can
// be replayed within its TTL or re-aimed at other nodes; replies are signed by one key
// shared by every server.
type SSL struct {
	clientPriv *rsa.PrivateKey // signs requests; nil when no client key is configured
	callerID   string          // cert=<base name of the client public key>
	serverPriv *rsa.PrivateKey // signs replies; nil when no server private key is configured
	serverPub  *rsa.PublicKey  // verifies replies; nil when plugin.ssl_server_public is unset
	certDir    string          // plugin.ssl_client_cert_dir
	// enforceTTL is false only for plugin.ssl.enforce_ttl = 0 (or another false value). legacyOK is true when
	// plugin.ssl.enforce_ttl is unset, so bodies without the ssl wrapper are accepted.
	enforceTTL bool
	legacyOK   bool
	missing    map[string]string // role -> what to configure, for clear errors at use time
}

var _ Provider = (*SSL)(nil)

// NewSSL builds the ssl provider from cfg's plugin.ssl_* settings. Every key is optional at
// this point, as a process uses only its role's keys: a client signs with
// plugin.ssl_client_private (or $MCOLLECTIVE_SSL_PRIVATE), takes its callerid from
// plugin.ssl_client_public (or $MCOLLECTIVE_SSL_PUBLIC) and verifies replies with
// plugin.ssl_server_public; a server verifies requests with the keys in
// plugin.ssl_client_cert_dir and signs replies with plugin.ssl_server_private. A key that is
// configured must load; a missing one fails when it is first needed. plugin.ssl_serializer
// must be marshal: yaml is not supported.
func NewSSL(cfg *config.Config) (*SSL, error) {
	if cfg == nil {
		return nil, errors.New("security: ssl: no configuration")
	}
	if s := cfg.PluginString("ssl_serializer", "marshal"); s != "marshal" {
		return nil, fmt.Errorf("security: ssl: plugin.ssl_serializer = %q is not supported; use marshal (the default) on every client and server", s)
	}
	p := &SSL{certDir: cfg.PluginString("ssl_client_cert_dir", ""), missing: map[string]string{}}
	_, set := cfg.Plugin["ssl.enforce_ttl"]
	et, err := cfg.PluginBool("ssl.enforce_ttl", true)
	if err != nil {
		return nil, fmt.Errorf("security: ssl: %w", err)
	}
	p.enforceTTL, p.legacyOK = et, !set

	privFile, ok := cfg.Env("MCOLLECTIVE_SSL_PRIVATE")
	if !ok {
		privFile = cfg.PluginString("ssl_client_private", "")
	}
	pubFile, ok := cfg.Env("MCOLLECTIVE_SSL_PUBLIC")
	if !ok {
		pubFile = cfg.PluginString("ssl_client_public", "")
	}
	if privFile != "" {
		if p.clientPriv, err = loadRSAPrivate(privFile); err != nil {
			return nil, fmt.Errorf("security: ssl: client private key: %w", err)
		}
	} else {
		p.missing["client private"] = "set plugin.ssl_client_private or MCOLLECTIVE_SSL_PRIVATE"
	}
	if pubFile != "" {
		p.callerID = "cert=" + strings.TrimSuffix(filepath.Base(pubFile), ".pem")
		if err := CheckCallerID(p.callerID); err != nil {
			return nil, fmt.Errorf("security: ssl: callerid from plugin.ssl_client_public: %w", err)
		}
	} else {
		p.missing["client public"] = "set plugin.ssl_client_public or MCOLLECTIVE_SSL_PUBLIC"
	}
	if f := cfg.PluginString("ssl_server_private", ""); f != "" {
		if p.serverPriv, err = loadRSAPrivate(f); err != nil {
			return nil, fmt.Errorf("security: ssl: plugin.ssl_server_private: %w", err)
		}
	} else {
		p.missing["server private"] = "set plugin.ssl_server_private"
	}
	if f := cfg.PluginString("ssl_server_public", ""); f != "" {
		if p.serverPub, err = loadRSAPublic(f); err != nil {
			return nil, fmt.Errorf("security: ssl: plugin.ssl_server_public: %w", err)
		}
	} else {
		p.missing["server public"] = "set plugin.ssl_server_public"
	}
	if p.certDir == "" {
		p.missing["client cert dir"] = "set plugin.ssl_client_cert_dir"
	}
	return p, nil
}

// loadRSAPrivate reads an RSA private key that is not world-accessible (MCollective fleets
// often keep server keys group-readable, so group access is allowed).
func loadRSAPrivate(path string) (*rsa.PrivateKey, error) {
	b, err := readKeyFile(path, true, 0o770)
	if err != nil {
		return nil, err
	}
	k, err := parsePrivate(b, path)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not an RSA private key", ErrKeyFile, path)
	}
	return rk, nil
}

// loadRSAPublic reads an RSA public key or certificate.
func loadRSAPublic(path string) (*rsa.PublicKey, error) {
	b, err := readKeyFile(path, false, 0)
	if err != nil {
		return nil, err
	}
	k, err := parsePublic(b, path)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not an RSA public key", ErrKeyFile, path)
	}
	return rk, nil
}

// Name returns "ssl".
func (p *SSL) Name() string { return "ssl" }

// CallerID returns "cert=<name>" from the client public key file's name, or "" when none is
// configured (SignRequest then fails).
func (p *SSL) CallerID() string { return p.callerID }

// String describes the provider without key material.
func (p *SSL) String() string { return "ssl(callerid=" + p.callerID + ")" }

// GoString is String, so %#v shows no key material.
func (p *SSL) GoString() string { return p.String() }

// Format prints String for every verb, so no format shows key material.
func (p SSL) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

func (p *SSL) need(role string, ok bool) error {
	if ok {
		return nil
	}
	return fmt.Errorf("security: ssl: no %s key: %s", role, p.missing[role])
}

// SignRequest wraps req.Body with the signed TTL and msgtime, as ssl.rb encoderequest does,
// and signs the result with the client private key.
func (p *SSL) SignRequest(req *message.Request) error {
	if req == nil {
		return errors.New("security: ssl: sign nil request")
	}
	if err := p.need("client private", p.clientPriv != nil); err != nil {
		return err
	}
	if err := p.need("client public", p.callerID != ""); err != nil {
		return err
	}
	inner, err := marshal.Unmarshal(req.Body)
	if err != nil {
		return fmt.Errorf("security: ssl: request body: %w", err)
	}
	wrapped, err := marshal.Marshal(map[marshal.Symbol]any{
		"ssl_msg": inner, "ssl_ttl": req.TTL, "ssl_msgtime": req.MsgTime,
	})
	if err != nil {
		return fmt.Errorf("security: ssl: request body: %w", err)
	}
	sig, err := rsaSign(p.clientPriv, wrapped)
	if err != nil {
		return err
	}
	req.Body, req.Hash = wrapped, sig
	req.Targets = nil // not in MCollective's envelope, and ssl.rb does not sign it
	return nil
}

// certCallerRE extracts the key name from an ssl callerid.
var certCallerRE = regexp.MustCompile(`^cert=([A-Za-z0-9_.\-]+)$`)

// VerifyRequest checks req.Hash with the caller's public key from plugin.ssl_client_cert_dir,
// then unwraps the body as ssl.rb decodemsg does: req.TTL and req.MsgTime become the signed
// values (a mismatch with the unsigned ones is refused unless plugin.ssl.enforce_ttl = 0) and
// req.Body becomes the inner body. Failures wrap ErrBadCallerID, ErrUnknownCaller or
// ErrBadSignature. On success req.CallerID is the verified "cert=<name>".
func (p *SSL) VerifyRequest(req *message.Request) error {
	if req == nil {
		return errors.New("security: ssl: verify nil request")
	}
	m := certCallerRE.FindStringSubmatch(req.CallerID)
	if m == nil || !ValidKeyName(m[1]) {
		return fmt.Errorf("%w %q on request %q from %q: the ssl provider wants cert=<name>", ErrBadCallerID, clip(req.CallerID), clip(req.RequestID), clip(req.SenderID))
	}
	if err := p.need("client cert dir", p.certDir != ""); err != nil {
		return err
	}
	path := filepath.Join(p.certDir, m[1]+".pem")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w for %s: %s does not exist", ErrUnknownCaller, req.CallerID, path)
	}
	pub, err := loadRSAPublic(path)
	if err != nil {
		return fmt.Errorf("%w for %s: %w", ErrUnknownCaller, req.CallerID, err)
	}
	if !rsaVerify(pub, req.Hash, req.Body) {
		return fmt.Errorf("%w on request %q from %q (callerid %s)", ErrBadSignature, clip(req.RequestID), clip(req.SenderID), req.CallerID)
	}
	return p.unwrap(req)
}

// unwrap replaces a verified request's body by its :ssl_msg and checks the signed TTL and
// msgtime against the envelope's.
func (p *SSL) unwrap(req *message.Request) error {
	v, err := marshal.Unmarshal(req.Body)
	if err != nil {
		return fmt.Errorf("security: ssl: request %q: body: %w", clip(req.RequestID), err)
	}
	h, ok := v.(map[any]any)
	if !ok {
		if !p.legacyOK {
			return fmt.Errorf("%w: request %q from %s@%s is in an unknown or older security protocol", ErrBadSignature, clip(req.RequestID), req.CallerID, clip(req.SenderID))
		}
		return nil // ssl.rb accepts it when plugin.ssl.enforce_ttl is unset
	}
	for _, f := range []struct {
		key, what string
		dst       *int64
	}{{"ssl_ttl", "TTL", &req.TTL}, {"ssl_msgtime", "Message Time", &req.MsgTime}} {
		sv, present := h[marshal.Symbol(f.key)]
		signed, isInt := sv.(int64)
		switch {
		case !present && p.enforceTTL:
			return fmt.Errorf("%w: request %q from %s@%s does not have a secure %s", ErrBadSignature, clip(req.RequestID), req.CallerID, clip(req.SenderID), f.what)
		case present && (!isInt || signed != *f.dst) && p.enforceTTL:
			return fmt.Errorf("%w: request %q from %s@%s %s does not match encrypted %s - possible tampering", ErrBadSignature, clip(req.RequestID), req.CallerID, clip(req.SenderID), f.what, f.what)
		case present && isInt:
			*f.dst = signed
		}
		delete(h, marshal.Symbol(f.key))
	}
	inner := any(h)
	if msg, ok := h[marshal.Symbol("ssl_msg")]; ok {
		inner = msg
	}
	if req.Body, err = marshal.Marshal(inner); err != nil {
		return fmt.Errorf("security: ssl: request %q: body: %w", clip(req.RequestID), err)
	}
	return nil
}

// SignReply signs rep.Body with the server private key.
func (p *SSL) SignReply(rep *message.Reply) error {
	if rep == nil {
		return errors.New("security: ssl: sign nil reply")
	}
	if err := p.need("server private", p.serverPriv != nil); err != nil {
		return err
	}
	sig, err := rsaSign(p.serverPriv, rep.Body)
	if err != nil {
		return err
	}
	rep.Hash = sig
	return nil
}

// VerifyReply checks rep.Hash against rep.Body with the server public key.
func (p *SSL) VerifyReply(rep *message.Reply) error {
	if rep == nil {
		return errors.New("security: ssl: verify nil reply")
	}
	if err := p.need("server public", p.serverPub != nil); err != nil {
		return err
	}
	if !rsaVerify(p.serverPub, rep.Hash, rep.Body) {
		return fmt.Errorf("%w on reply to %q from %q", ErrBadSignature, clip(rep.RequestID), clip(rep.SenderID))
	}
	return nil
}

// rsaSign returns Ruby's Base64.encode64 of the PKCS#1 v1.5 RSA-SHA1 signature of b.
func rsaSign(k *rsa.PrivateKey, b []byte) (string, error) {
	sum := sha1.Sum(b)
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA1, sum[:])
	if err != nil {
		return "", fmt.Errorf("security: ssl: sign: %w", err)
	}
	return encode64(sig), nil
}

// base64RE is ssl.rb's check on a signature before decoding it.
var base64RE = regexp.MustCompile(`^[A-Za-z0-9+/=\s]+$`)

// rsaVerify checks a Base64 RSA-SHA1 signature as ssl.rb verify_signature does.
func rsaVerify(k *rsa.PublicKey, sig string, b []byte) bool {
	if len(sig) > 8192 || !base64RE.MatchString(sig) {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(sig), ""))
	if err != nil {
		return false
	}
	sum := sha1.Sum(b)
	return rsa.VerifyPKCS1v15(k, crypto.SHA1, sum[:], raw) == nil
}

// encode64 is Ruby's Base64.encode64: standard Base64 in lines of 60 characters, each ending
// in a newline.
func encode64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 60 {
		out.WriteString(s[:60])
		out.WriteByte('\n')
		s = s[60:]
	}
	if s != "" {
		out.WriteString(s)
		out.WriteByte('\n')
	}
	return out.String()
}
