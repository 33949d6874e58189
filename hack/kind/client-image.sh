#!/usr/bin/env bash
# client-image.sh <node24 base image>: the image the kind suite's client pods run — the Node 24 base with
# this machine's restic (the real backup client, Debian's build) — tagged by a hash of both; printed.
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
base=${1:?usage: client-image.sh <node24 base image>}
restic=$(command -v restic) || { echo "error: restic is required: apt-get install restic" >&2; exit 1; }
key=$( { echo "$base"; sha256sum <"$restic"; } | sha256sum | cut -c1-12)
image="tbo-kind/client:$key"
if ! docker image inspect "$image" >/dev/null 2>&1; then
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  cp -L "$restic" "$ctx/restic"
  printf 'FROM %s\nCOPY restic /usr/local/bin/restic\n' "$base" >"$ctx/Dockerfile"
  kind_docker_build "$image" "$ctx"
fi
echo "$image"
