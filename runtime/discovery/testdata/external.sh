#!/bin/sh
# An external discovery command written from Choria's protocol documentation: the request
# file is $1 (also $CHORIA_EXTERNAL_REQUEST), the reply file $2, the protocol $3. It answers
# with two web nodes, or db01 for -F role=db. The options fail=yes, exit=yes and hang=yes make
# it report an error, exit non-zero and never finish; dump=FILE copies the request there.
set -eu
[ "$3" = io.choria.choria.discovery.v1.external_request ] || { echo "bad protocol $3" >&2; exit 3; }
[ "$CHORIA_EXTERNAL_REQUEST" = "$1" ] || { echo "request env differs" >&2; exit 3; }
req=$(cat "$1")
case $req in *'"fail":"yes"'*) printf '{"error": "the CMDB is down"}' >"$2"; exit 0;; esac
case $req in *'"exit":"yes"'*) echo "cannot reach the CMDB" >&2; exit 7;; esac
case $req in *'"hang":"yes"'*) sleep 30; exit 0;; esac
nodes='"web01.dc1.example.net","web02.dc1.example.net"'
case $req in *'"fact":[{"fact":"role","operator":"==","value":"db"}]'*) nodes='"db01.dc2.example.net"';; esac
# the option "dump" names a file to copy the request to, for the test to read
dump=$(printf '%s' "$req" | sed -n 's/.*"dump":"\([^"]*\)".*/\1/p')
[ -z "$dump" ] || cp "$1" "$dump"
printf '{"protocol": "io.choria.choria.discovery.v1.external_reply", "nodes": [%s]}' "$nodes" >"$2"
