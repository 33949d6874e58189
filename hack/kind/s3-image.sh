#!/usr/bin/env bash
# s3-image.sh <weed binary>: the image of the kind suite's S3 server — SeaweedFS's `weed` (built by
# hack/seaweedfs/build.sh; static, so FROM scratch) — tagged by a hash of the binary; printed.
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
weed=${1:?usage: s3-image.sh <weed binary from hack/seaweedfs/build.sh>}
[ -x "$weed" ] || { echo "error: $weed is not an executable; build it with: bash hack/seaweedfs/build.sh" >&2; exit 1; }
key=$(sha256sum <"$weed" | cut -c1-12)
image="tbo-kind/seaweedfs:$key"
if ! docker image inspect "$image" >/dev/null 2>&1; then
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  cp -L "$weed" "$ctx/weed"
  printf 'FROM scratch\nCOPY weed /weed\nUSER 65532:65532\nENTRYPOINT ["/weed"]\n' >"$ctx/Dockerfile"
  kind_docker_build "$image" "$ctx"
fi
echo "$image"
