#!/usr/bin/env bash
# Installs the Debian packages the tests use, when missing: openssl (control-plane certificates, TLS
# checks), restic (the real backup client the gateway is tested with), tar and coreutils (export checks).
set -euo pipefail
declare -A package_of=([openssl]=openssl [restic]=restic [tar]=tar [sha256sum]=coreutils)
missing=()
for command in "${!package_of[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${package_of[$command]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
