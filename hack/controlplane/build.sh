#!/usr/bin/env bash
# Builds the real control plane the integration tests run (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, and kubelet, kubeadm, kube-proxy for the kind node image (hack/kind), kwok, kwokctl), and helm for the chart's tests, from the pinned Go modules beside this script.
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

GO_BUILD_CACHE=$cache GO_BUILD_BIN=$bin
# shellcheck source=../lib/go-build.sh
source "$here/../lib/go-build.sh"

k8s_version=$(go_required_version "$here/kubernetes/go.mod" k8s.io/kubernetes)
etcd_version=$(go_required_version "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)
kwok_version=$(go_required_version "$here/kwok/go.mod" sigs.k8s.io/kwok)
helm_version=$(go_required_version "$here/helm/go.mod" helm.sh/helm/v4)

k8s_minor=$(echo "$k8s_version" | cut -d. -f2)
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor -X $pkg.gitTreeState=clean"
done

go_build_tools kubernetes "$here/kubernetes" "$k8s_version" "$k8s_ldflags" \
  kube-apiserver=kube-apiserver kube-controller-manager=kube-controller-manager \
  kube-scheduler=kube-scheduler kubectl=kubectl kubelet=kubelet kubeadm=kubeadm kube-proxy=kube-proxy
go_build_tools etcd "$here/etcd" "$etcd_version" "" etcd=server etcdctl=etcdctl
go_build_tools kwok "$here/kwok" "$kwok_version" "" kwok=kwok kwokctl=kwokctl
# helm's Makefile stamps the version the same way (`helm version` would otherwise say v4.x-unreleased).
helm_pkg=helm.sh/helm/v4/internal/version
go_build_tools helm "$here/helm" "$helm_version" "-X $helm_pkg.version=$helm_version -X $helm_pkg.metadata= -X $helm_pkg.gitTreeState=clean" helm=helm

echo "$bin"
