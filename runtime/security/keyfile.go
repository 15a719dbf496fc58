package security

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
)

// Key files are PEM. Private keys are PKCS#8 ("PRIVATE KEY"); the ssl provider also reads
// PKCS#1 ("RSA PRIVATE KEY") as openssl genrsa writes it. Public keys are PKIX ("PUBLIC
// KEY"); the ssl provider also reads PKCS#1 ("RSA PUBLIC KEY") and X.509 certificates, as
// MCollective's ssl plugin does. Errors about a key file name the file and never quote its
// contents.

// ErrUnknownCaller means no trusted public key exists for a callerid or a replying server.
var ErrUnknownCaller = errors.New("security: no trusted key")

// ErrKeyFile means a key file is missing, unreadable, malformed or too widely readable.
var ErrKeyFile = errors.New("security: bad key file")

// keyNameRE is what a key name (the part after "cert=" or "ed25519=") may be: the value part
// of a valid callerid, not starting with a dot so that no hidden file or ".." is named.
var keyNameRE = regexp.MustCompile(`^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$`)

// ValidKeyName reports whether name can name a key file in a trust store.
func ValidKeyName(name string) bool { return keyNameRE.MatchString(name) }

// readKeyFile reads a key file. When private is set it refuses a file whose mode grants any
// access beyond perm (e.g. 0o600 refuses group and world access; 0o773 refuses world read).
func readKeyFile(path string, private bool, perm fs.FileMode) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no file name", ErrKeyFile)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrKeyFile, path)
	}
	if private && fi.Mode().Perm()&^perm != 0 {
		return nil, fmt.Errorf("%w: private key %s has mode %04o; it must not be readable by others: chmod %04o %s",
			ErrKeyFile, path, fi.Mode().Perm(), fi.Mode().Perm()&perm, path)
	}
	if fi.Size() > 1<<20 {
		return nil, fmt.Errorf("%w: %s is larger than 1 MiB", ErrKeyFile, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrKeyFile, path)
	}
	return b, nil
}

// firstPEM returns the first PEM block of b, or an error naming path.
func firstPEM(b []byte, path string) (*pem.Block, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%w: %s holds no PEM block", ErrKeyFile, path)
	}
	if _, enc := blk.Headers["Proc-Type"]; enc {
		return nil, fmt.Errorf("%w: %s is encrypted; passphrase-protected keys are not supported", ErrKeyFile, path)
	}
	return blk, nil
}

// parsePrivate parses a PEM private key of any supported kind. Parse errors are replaced by
// a fixed message so that no part of the key ends up in an error.
func parsePrivate(b []byte, path string) (any, error) {
	blk, err := firstPEM(b, path)
	if err != nil {
		return nil, err
	}
	switch blk.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: not a valid PKCS#8 private key", ErrKeyFile, path)
		}
		return k, nil
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: not a valid PKCS#1 RSA private key", ErrKeyFile, path)
		}
		return k, nil
	case "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("%w: %s is encrypted; passphrase-protected keys are not supported", ErrKeyFile, path)
	}
	return nil, fmt.Errorf("%w: %s: PEM type %q is not a private key", ErrKeyFile, path, blk.Type)
}

// parsePublic parses a PEM public key: PKIX, PKCS#1 RSA, or the key of an X.509 certificate.
func parsePublic(b []byte, path string) (any, error) {
	blk, err := firstPEM(b, path)
	if err != nil {
		return nil, err
	}
	switch blk.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: not a valid PKIX public key: %w", ErrKeyFile, path, err)
		}
		return k, nil
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: not a valid PKCS#1 public key: %w", ErrKeyFile, path, err)
		}
		return k, nil
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: not a valid certificate: %w", ErrKeyFile, path, err)
		}
		return c.PublicKey, nil
	}
	if blk.Type == "PRIVATE KEY" || blk.Type == "RSA PRIVATE KEY" {
		return nil, fmt.Errorf("%w: %s holds a private key where a public key belongs; remove it from there", ErrKeyFile, path)
	}
	return nil, fmt.Errorf("%w: %s: PEM type %q is not a public key", ErrKeyFile, path, blk.Type)
}

// KeyType names the kind of key pair GenerateKeyPair makes.
type KeyType string

// The key types mcorun keygen writes.
const (
	KeyEd25519 KeyType = "ed25519" // for the ed25519 provider
	KeyRSA     KeyType = "rsa"     // 2048-bit RSA, for the ssl provider
)

// KeyPairFiles are the files GenerateKeyPair wrote.
type KeyPairFiles struct {
	Private string // <dir>/<name>.key (ed25519) or <dir>/<name>-private.pem (rsa), mode 0600
	Public  string // <dir>/<name>.pub (ed25519) or <dir>/<name>.pem (rsa), mode 0644
}

// GenerateKeyPair writes a new key pair named name into dir: PKCS#8 PEM private key with mode
// 0600 and PKIX PEM public key with mode 0644. The ed25519 pair is <name>.key and
// <name>.pub; the rsa pair is <name>-private.pem and <name>.pem, so that the public file's
// base name is the ssl callerid (cert=<name>). It refuses to overwrite existing files.
func GenerateKeyPair(dir, name string, typ KeyType) (KeyPairFiles, error) {
	if !ValidKeyName(name) {
		return KeyPairFiles{}, fmt.Errorf("security: keygen: name %q: want letters, digits, '_', '-' and '.', not starting with '.'", name)
	}
	var (
		priv, pub any
		files     KeyPairFiles
	)
	switch typ {
	case KeyEd25519:
		pk, sk, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return files, fmt.Errorf("security: keygen: %w", err)
		}
		priv, pub = sk, pk
		files = KeyPairFiles{Private: filepath.Join(dir, name+".key"), Public: filepath.Join(dir, name+".pub")}
	case KeyRSA:
		sk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return files, fmt.Errorf("security: keygen: %w", err)
		}
		priv, pub = sk, &sk.PublicKey
		files = KeyPairFiles{Private: filepath.Join(dir, name+"-private.pem"), Public: filepath.Join(dir, name+".pem")}
	default:
		return files, fmt.Errorf("security: keygen: key type %q is not one of ed25519, rsa", typ)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return files, fmt.Errorf("security: keygen: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return files, fmt.Errorf("security: keygen: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return files, fmt.Errorf("security: keygen: %w", err)
	}
	if err := writeNew(files.Private, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		return files, err
	}
	if err := writeNew(files.Public, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		_ = os.Remove(files.Private)
		return files, err
	}
	return files, nil
}

// writeNew creates path with mode perm and writes b, failing when path exists.
func writeNew(path string, b []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("security: keygen: %w", err)
	}
	if err := f.Chmod(perm); err != nil { // exactly perm, whatever the umask
		f.Close()
		return fmt.Errorf("security: keygen: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("security: keygen: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("security: keygen: %w", err)
	}
	return nil
}
