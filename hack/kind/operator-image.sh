#!/usr/bin/env bash
# operator-image.sh <node24 base image>: builds our image from the Dockerfile on that base and prints its
# tag, tenant-backup-operator:kind-<hash of what goes into it>; skipped when the tag exists.
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
base=${1:?usage: operator-image.sh <node24 base image>}
key=$( { echo "$base"; cd "$root" && git ls-files -z Dockerfile .dockerignore package.json package-lock.json tsconfig.json tsconfig.build.json src \
  | xargs -0 sha256sum; } | sha256sum | cut -c1-12)
image="tenant-backup-operator:kind-$key"
if ! docker image inspect "$image" >/dev/null 2>&1; then
  echo "building $image from the Dockerfile on $base" >&2
  kind_docker_build "$image" "$root" --build-arg "NODE_IMAGE=$base" --build-arg "REVISION=$(git -C "$root" rev-parse --short HEAD)"
fi
echo "$image"
