package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/mcorun/mcorun/runtime/security"
)

const keygenUsage = `Usage:
  mcorun keygen [--type ed25519|rsa] [--out DIR] NAME

Writes a new key pair for NAME into DIR (default: the current directory) and
says where each file goes. It never overwrites an existing key.

  --type ed25519 (default), for securityprovider = ed25519:
      NAME.key  private key, PKCS#8 PEM, mode 0600: plugin.ed25519.key
      NAME.pub  public key, PKIX PEM
    For a client (callerid ed25519=NAME), copy NAME.pub into every node's
    plugin.ed25519.trusted_clients directory. For a node, use its identity as
    NAME and copy NAME.pub into every client's plugin.ed25519.trusted_servers
    directory.

  --type rsa, for securityprovider = ssl (2048-bit RSA):
      NAME-private.pem  private key, mode 0600
      NAME.pem          public key; its base name is the callerid cert=NAME
    For a client, set plugin.ssl_client_private and plugin.ssl_client_public
    and copy NAME.pem into every node's plugin.ssl_client_cert_dir. For the
    shared server key, set plugin.ssl_server_private on the nodes and
    plugin.ssl_server_public everywhere.

Examples:
  mcorun keygen alice
  mcorun keygen --out /etc/mcollective/ed25519 web1.example.com
  mcorun keygen --type rsa --out ~/.mcollective alice
`

func keygenCommand() *command {
	return &command{name: "keygen", summary: "keygen [--type ed25519|rsa] NAME: make a key pair for the ed25519 or ssl provider", usage: keygenUsage, run: runKeygen}
}

func runKeygen(_ context.Context, e *env, args []string) int {
	flags := pflag.NewFlagSet("mcorun keygen", pflag.ContinueOnError)
	flags.SetOutput(io.Discard)
	typ := flags.String("type", string(security.KeyEd25519), "ed25519 or rsa")
	out := flags.String("out", ".", "directory to write the key pair into")
	if err := flags.Parse(args); errors.Is(err, pflag.ErrHelp) {
		fmt.Fprint(e.stdout, keygenUsage)
		return exitOK
	} else if err != nil {
		return usageErr(e, "keygen", err)
	}
	if flags.NArg() != 1 {
		return usageErr(e, "keygen", errors.New("want exactly one NAME"))
	}
	name := flags.Arg(0)
	files, err := security.GenerateKeyPair(*out, name, security.KeyType(*typ))
	if errors.Is(err, fs.ErrExist) {
		fmt.Fprintf(e.stderr, "mcorun keygen: a key for %s already exists in %s and keygen never overwrites one: pick another NAME or --out DIR, or remove the old pair first (%v)\n", name, *out, err)
		return exitUsage
	} else if err != nil {
		fmt.Fprintf(e.stderr, "mcorun keygen: %v\n", err)
		return exitUsage
	}
	// The config settings printed below need paths that do not depend on the directory
	// mcod or mcorun happens to start in.
	if p, err := filepath.Abs(files.Private); err == nil {
		files.Private = p
	}
	if p, err := filepath.Abs(files.Public); err == nil {
		files.Public = p
	}
	pub := filepath.Base(files.Public)
	fmt.Fprintf(e.stdout, "wrote %s (private, mode 0600)\nwrote %s (public)\n", files.Private, files.Public)
	if security.KeyType(*typ) == security.KeyRSA {
		fmt.Fprintf(e.stdout, `as a client (callerid cert=%[1]s):
  set plugin.ssl_client_private = %[2]s and plugin.ssl_client_public = %[3]s,
  and copy %[4]s into each node's plugin.ssl_client_cert_dir
as the shared server key:
  set plugin.ssl_server_private = %[2]s on each node and
  plugin.ssl_server_public = <a copy of %[4]s> on each node and client
`, name, files.Private, files.Public, pub)
		return exitOK
	}
	fmt.Fprintf(e.stdout, `set securityprovider = ed25519 and plugin.ed25519.key = %[2]s on this host
as a client (callerid ed25519=%[1]s): copy %[3]s into each node's plugin.ed25519.trusted_clients directory (default /etc/mcollective/ed25519/clients)
as a node (NAME must be its identity): copy %[3]s into each client's plugin.ed25519.trusted_servers directory (default /etc/mcollective/ed25519/servers)
`, name, files.Private, pub)
	return exitOK
}
