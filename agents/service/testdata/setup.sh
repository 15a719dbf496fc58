#!/bin/sh
# Installs what the service agent's real SysV test needs (start-stop-daemon, pgrep and
# Debian's service command). Idempotent; run as root, e.g. from the CI setup.
set -e
missing=""
command -v start-stop-daemon >/dev/null 2>&1 || missing="$missing dpkg"
command -v pgrep >/dev/null 2>&1 || missing="$missing procps"
command -v service >/dev/null 2>&1 || missing="$missing init-system-helpers"
if [ -n "$missing" ]; then
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y $missing
fi
