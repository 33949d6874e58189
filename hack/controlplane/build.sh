#!/usr/bin/env bash
# Builds the real control plane the integration tests run (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok, kwokctl), and helm for the chart's tests, from the pinned Go modules beside this script.
# No container registry is reachable here, so kind node images are not an option; the Go module proxy is.
# Each component is built once per (module pins, Go version) into .cache/controlplane/<component>-<version>-<hash>/
# and linked into .cache/controlplane/bin; a warm run only checks the cache. Go's own module and build
# caches (GOMODCACHE, GOCACHE) are reused, so even a rebuild after a pin change is incremental.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="${CONTROLPLANE_CACHE:-$root/.cache/controlplane}"
bin="$cache/bin"
mkdir -p "$bin"

if ! command -v go >/dev/null 2>&1; then
  echo "error: Go is required to build the control plane (Go 1.26+: https://go.dev/doc/install)" >&2
  exit 1
fi


cache_key() { # <module dir> <extra>
  { cat "$1/go.mod" "$1/go.sum"; go env GOVERSION; echo "$2"; } | sha256sum | cut -c1-12
}

# build <name> <module dir> <version> <ldflags> <output-name=tool-name>...
build() {
  local name=$1 dir=$2 version=$3 ldflags=$4
  shift 4
  local key target
  key=$(cache_key "$dir" "$ldflags")
  target="$cache/$name-$version-$key"
  if [ ! -f "$target/.complete" ]; then
    echo "building $name $version (cold builds take tens of minutes on 2 cores; cached afterwards in $target)" >&2
    local started=$SECONDS tmp="$target.tmp"
    rm -rf "$tmp" && mkdir -p "$tmp"
    (cd "$dir" && GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp/" tool)
    for pair in "$@"; do [ "${pair#*=}" = "${pair%%=*}" ] || mv "$tmp/${pair#*=}" "$tmp/${pair%%=*}"; done
    echo "$version" > "$tmp/VERSION"
    touch "$tmp/.complete"
    rm -rf "$target" && mv "$tmp" "$target"
    echo "built $name $version in $((SECONDS - started))s" >&2
  fi
  for pair in "$@"; do ln -sfn "$target/${pair%%=*}" "$bin/${pair%%=*}"; done
}

required_version() { # <go.mod> <module path>
  awk -v m="$2" '$1 == m && $2 ~ /^v/ {print $2; exit} $1 == "require" && $2 == m {print $3; exit}' "$1"
}
k8s_version=$(required_version "$here/kubernetes/go.mod" k8s.io/kubernetes)
etcd_version=$(required_version "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)
kwok_version=$(required_version "$here/kwok/go.mod" sigs.k8s.io/kwok)
helm_version=$(required_version "$here/helm/go.mod" helm.sh/helm/v4)

k8s_minor=$(echo "$k8s_version" | cut -d. -f2)
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor -X $pkg.gitTreeState=clean"
done

build kubernetes "$here/kubernetes" "$k8s_version" "$k8s_ldflags" \
  kube-apiserver=kube-apiserver kube-controller-manager=kube-controller-manager \
  kube-scheduler=kube-scheduler kubectl=kubectl
build etcd "$here/etcd" "$etcd_version" "" etcd=server etcdctl=etcdctl
build kwok "$here/kwok" "$kwok_version" "" kwok=kwok kwokctl=kwokctl
# helm's Makefile stamps the version the same way (`helm version` would otherwise say v4.x-unreleased).
helm_pkg=helm.sh/helm/v4/internal/version
build helm "$here/helm" "$helm_version" "-X $helm_pkg.version=$helm_version -X $helm_pkg.metadata= -X $helm_pkg.gitTreeState=clean" helm=helm

echo "$bin"
