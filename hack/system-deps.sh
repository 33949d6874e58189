#!/usr/bin/env bash
# Installs the Debian packages the tests use, when missing: openssl (control-plane certificates, TLS
# checks), restic (the real backup client the gateway is tested with), tar and coreutils (export checks),
# and for the kind suite (hack/kind): docker.io (dockerd), debootstrap (root filesystems of the node and
# component images), jq, and libseccomp-dev + pkg-config (runc is built with seccomp support).
set -euo pipefail
declare -A package_of=([openssl]=openssl [restic]=restic [tar]=tar [sha256sum]=coreutils
  [dockerd]=docker.io [debootstrap]=debootstrap [jq]=jq [pkg-config]=pkg-config [gcc]=gcc)
libraries=(libseccomp-dev)
missing=()
for command in "${!package_of[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${package_of[$command]}")
done
for library in "${libraries[@]}"; do
  dpkg-query -W -f='${Status}' "$library" 2>/dev/null | grep -q "install ok installed" || missing+=("$library")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
