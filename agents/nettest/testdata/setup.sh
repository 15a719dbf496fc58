#!/bin/sh
# Installs what the nettest agent's tests need: iputils' ping (TestPingLoopback fails
# without it under CI=true). Idempotent; run as root on Debian.
set -eu
if command -v ping >/dev/null 2>&1; then
	exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iputils-ping
