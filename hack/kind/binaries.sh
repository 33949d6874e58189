#!/usr/bin/env bash
# Builds, from the pinned Go modules in hack/kind/modules, every binary a kind node image and its cluster
# need when no registry serves the upstream images: kind itself, containerd + ctr + shim, runc (with
# libseccomp), crictl, coredns, etcd (the version kubeadm asks for), local-path-provisioner, kube-router
# (CNI and NetworkPolicy engine), and pause (from the Kubernetes module's C source). kubelet, kubeadm and
# kube-proxy come from the control plane's Kubernetes module (hack/controlplane/build.sh).
# Cached per (module pins, Go version) under .cache/kind/build; links in .cache/kind/bin. Prints the bin dir.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
modules="$here/modules"
cache="${KIND_CACHE:-$root/.cache/kind}"
GO_BUILD_CACHE="$cache/build" GO_BUILD_BIN="$cache/bin"
# shellcheck source=../lib/go-build.sh
source "$here/../lib/go-build.sh"

version_of() { go_required_version "$modules/$1/go.mod" "$2"; }

go_build_tools kind "$modules/kind" "$(version_of kind sigs.k8s.io/kind)" "" kind=kind
go_build_tools containerd "$modules/containerd" "$(version_of containerd github.com/containerd/containerd/v2)" \
  "-X github.com/containerd/containerd/v2/version.Version=$(version_of containerd github.com/containerd/containerd/v2)" \
  containerd=containerd ctr=ctr containerd-shim-runc-v2=containerd-shim-runc-v2
# runc needs cgo for its nsenter and libseccomp for seccomp profiles (Debian's runc 1.1 fails 1.37's sandboxes).
GO_BUILD_CGO=1 GO_BUILD_TAGS="seccomp urfave_cli_no_docs" go_build_tools runc "$modules/runc" \
  "$(version_of runc github.com/opencontainers/runc)" "-X main.version=$(version_of runc github.com/opencontainers/runc | sed 's/^v//')" runc=runc
go_build_tools crictl "$modules/crictl" "$(version_of crictl sigs.k8s.io/cri-tools)" \
  "-X sigs.k8s.io/cri-tools/pkg/version.Version=$(version_of crictl sigs.k8s.io/cri-tools)" crictl=crictl
go_build_tools coredns "$modules/coredns" "$(version_of coredns github.com/coredns/coredns)" "" coredns=coredns
go_build_tools etcd "$modules/etcd" "$(version_of etcd go.etcd.io/etcd/server/v3)" "" etcd=server
go_build_tools local-path-provisioner "$modules/local-path-provisioner" \
  "$(version_of local-path-provisioner github.com/rancher/local-path-provisioner)" "" local-path-provisioner=local-path-provisioner
go_build_tools kube-router "$modules/kube-router" "$(version_of kube-router github.com/cloudnativelabs/kube-router/v2)" \
  "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$(version_of kube-router github.com/cloudnativelabs/kube-router/v2)" \
  kube-router=kube-router

# pause: a few lines of C in the Kubernetes module, linked statically so it runs FROM scratch.
k8s_dir=$(cd "$root/hack/controlplane/kubernetes" && go mod download -json k8s.io/kubernetes | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
pause_version=$(sed -n 's/^\s*PauseVersion = "\(.*\)"$/\1/p' "$k8s_dir/cmd/kubeadm/app/constants/constants.go")
pause_target="$cache/build/pause-$pause_version"
if [ ! -x "$pause_target/pause" ]; then
  command -v gcc >/dev/null || { echo "error: gcc is required to build pause: apt-get install gcc libc6-dev" >&2; exit 1; }
  mkdir -p "$pause_target"
  gcc -Os -Wall -Werror -static -DVERSION="v$pause_version" -o "$pause_target/pause" "$k8s_dir/build/pause/linux/pause.c"
  strip "$pause_target/pause"
fi
ln -sfn "$pause_target/pause" "$GO_BUILD_BIN/pause"

echo "$GO_BUILD_BIN"
