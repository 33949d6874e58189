#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (Apache-2.0), the real S3-compatible server the export's S3 tests run,
# from the Go module proxy via the wrapper module beside this script (seaweedfs's go.mod has a
# replace directive, so `go install ...@version` is refused; the wrapper repeats it). MinIO is AGPL
# and not used. Built once per (module pins, Go version) into .cache/seaweedfs/weed-<version>-<hash>/
# and linked as .cache/seaweedfs/bin/weed, like hack/controlplane/build.sh; a warm run only checks the
# cache. Prints the binary's path.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="${SEAWEEDFS_CACHE:-$root/.cache/seaweedfs}"
bin="$cache/bin"
mkdir -p "$bin"

if ! command -v go >/dev/null 2>&1; then
  echo "error: Go is required to build SeaweedFS for the S3 tests (Go 1.26+: https://go.dev/doc/install)" >&2
  exit 1
fi

version=$(awk '$1 == "github.com/seaweedfs/seaweedfs" {print $2; exit}' "$here/go.mod")
key=$({ cat "$here/go.mod" "$here/go.sum"; go env GOVERSION; } | sha256sum | cut -c1-12)
target="$cache/weed-$version-$key"
if [ ! -f "$target/.complete" ]; then
  echo "building SeaweedFS $version (about 5 minutes with a warm module cache on 2 cores; cached afterwards in $target)" >&2
  started=$SECONDS
  tmp="$target.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp"
  (cd "$here" && GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/weed" github.com/seaweedfs/seaweedfs/weed)
  echo "$version" > "$tmp/VERSION"
  touch "$tmp/.complete"
  rm -rf "$target" && mv "$tmp" "$target"
  echo "built SeaweedFS $version in $((SECONDS - started))s" >&2
fi
ln -sfn "$target/weed" "$bin/weed"
echo "$bin/weed"
