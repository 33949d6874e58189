#!/usr/bin/env bash
# images.sh: makes sure the images a kind cluster of ours needs exist in the local Docker engine, and
# prints three lines: the node image, the kube-router image, and the Node 24 base for our Dockerfile.
#
# With a registry (KIND_IMAGES=upstream, or auto when one answers) they are the upstream images, pulled.
# Without one (KIND_IMAGES=local, or auto when none answers) they are built here:
#   - two Debian bookworm root filesystems by debootstrap: one for the node (systemd, iptables, ...) and a
#     small one for the component images that need a shell or iptables;
#   - kind's base image from the node rootfs, kind's own base files (in the kind module) and the binaries
#     of binaries.sh (containerd, runc, crictl) plus Debian's CNI plugins;
#   - the component images kubeadm and kind ask for, under exactly the tags they ask for: kube-apiserver,
#     kube-controller-manager, kube-scheduler (FROM scratch), kube-proxy (tools rootfs, for iptables),
#     etcd, coredns, pause, local-path-provisioner (FROM scratch) and its helper (tools rootfs). kindnetd
#     is not buildable here (its module is not served); clusters here disable it and run kube-router, so
#     its tag holds a placeholder that is never run;
#   - the node image by `kind build node-image --type file` from a Kubernetes server tarball laid out as
#     the release one is, whose first image archive lists every image above in its `repositories` file, so
#     that kind counts them as built and pulls nothing;
#   - kube-router's image (tools rootfs) and a Node 24 base (a third rootfs, minbase and CA certificates, and the Node 24 binary of the
#     npm package `node` this project pins, with npm for the Dockerfile's build stages).
# Every image built here is tagged with a hash of its inputs (lib.sh), so Docker's image store is the
# cache: a warm run only looks the tags up.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

registry_answers() { timeout 60 docker pull -q "$UPSTREAM_NODE_IMAGE" >/dev/null 2>&1; }
mode=$KIND_IMAGES
if [ "$mode" = auto ]; then
  if registry_answers; then mode=upstream; else mode=local; fi
fi
if [ "$mode" = upstream ]; then
  docker image inspect "$UPSTREAM_NODE_IMAGE" >/dev/null 2>&1 || docker pull -q "$UPSTREAM_NODE_IMAGE" >/dev/null
  docker pull -q "$UPSTREAM_KUBE_ROUTER_IMAGE" >/dev/null
  docker pull -q "$UPSTREAM_NODE24_IMAGE" >/dev/null
  printf '%s\n' "$UPSTREAM_NODE_IMAGE" "$UPSTREAM_KUBE_ROUTER_IMAGE" "$UPSTREAM_NODE24_IMAGE"
  exit 0
fi
[ "$mode" = local ] || { echo "error: KIND_IMAGES must be auto, local or upstream, not '$mode'" >&2; exit 1; }

key=$(kind_inputs_key)
node_image="tbo-kind/node:$k8s_version-$key"
kube_router_image="tbo-kind/kube-router:$kube_router_version-$key"
node24_image="tbo-kind/node24:$key"
if docker image inspect "$node_image" "$kube_router_image" "$node24_image" >/dev/null 2>&1; then
  printf '%s\n' "$node_image" "$kube_router_image" "$node24_image"
  exit 0
fi

started=$SECONDS
work="$KIND_CACHE/work-$key"
rm -rf "$work" && mkdir -p "$work"

# Binaries (Go builds; the longest step of a cold run) and the two root filesystems (network-bound),
# side by side.
# A root filesystem's tag hashes only what goes into it, so editing the rest does not repeat debootstrap.
rootfs_tag() { echo "tbo-kind/rootfs-$1:$( { sha256sum <"$here/rootfs.sh"; echo "$2"; } | sha256sum | cut -c1-12)"; }
node_packages=systemd,systemd-sysv,dbus,conntrack,iptables,nftables,ipset,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,bash,ca-certificates,curl,jq,procps,e2fsprogs,containernetworking-plugins
tools_packages=iptables,nftables,ipset,iproute2,conntrack,ca-certificates
rootfs_node=$(rootfs_tag node "$node_packages")
rootfs_tools=$(rootfs_tag tools "$tools_packages")
rootfs_runtime=$(rootfs_tag runtime ca-certificates)
bash "$here/rootfs.sh" node "$rootfs_node" "$node_packages" & rootfs_node_pid=$!
bash "$here/rootfs.sh" tools "$rootfs_tools" "$tools_packages" & rootfs_tools_pid=$!
bash "$here/rootfs.sh" runtime "$rootfs_runtime" ca-certificates & rootfs_runtime_pid=$!
cp_bin=$(bash "$kind_root/hack/controlplane/build.sh" | tail -1)
kind_bin=$(bash "$here/binaries.sh" | tail -1)
wait "$rootfs_node_pid"
wait "$rootfs_tools_pid"
wait "$rootfs_runtime_pid"
export PATH="$kind_bin:$PATH"

# --- kind's base image ---------------------------------------------------------------------------
kind_module_dir=$(cd "$kind_modules/kind" && go mod download -json sigs.k8s.io/kind | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
base_ctx="$work/base"
mkdir -p "$base_ctx/bin"
cp -r "$kind_module_dir/images/base/files" "$base_ctx/files"
chmod -R u+w "$base_ctx/files"
for b in containerd ctr containerd-shim-runc-v2 crictl runc; do cp -L "$kind_bin/$b" "$base_ctx/bin/"; done
oom_fix=""
if machine_lacks_cap_sys_resource; then
  # Without CAP_SYS_RESOURCE runc cannot set the -998 oom_score_adj the kubelet asks for pod sandboxes.
  oom_fix="RUN sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' /etc/containerd/config.toml"
fi
cat >"$base_ctx/Dockerfile" <<DOCKERFILE
FROM $rootfs_node
COPY files/usr/local/bin/ /usr/local/bin/
COPY files/kind/ /kind/
COPY files/etc/ /etc/
COPY bin/containerd bin/ctr bin/containerd-shim-runc-v2 bin/crictl /usr/local/bin/
COPY bin/runc /usr/local/sbin/runc
RUN chmod 755 /kind /kind/bin /kind/bin/* /usr/local/bin/* /usr/local/sbin/runc \\
 && mkdir -p /opt/cni/bin && cp /usr/lib/cni/* /opt/cni/bin/ \\
 && find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete \\
 && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \\
      /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \\
      /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \\
 && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \\
 && ln -sf /usr/lib/systemd/systemd /sbin/init \\
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \\
 && systemctl mask systemd-binfmt.service \\
 && mkdir -p /etc/kubernetes/manifests \\
 && ctr oci spec | jq '.hooks.createContainer[.hooks.createContainer|length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \\
      | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json
$oom_fix
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]
DOCKERFILE
base_image="tbo-kind/base:$key"
kind_log "building kind's base image $base_image"
kind_docker_build "$base_image" "$base_ctx"

# --- component images ----------------------------------------------------------------------------
component() { # <tag> <FROM> <binary> <path in image> [entrypoint json]
  local tag=$1 from=$2 binary=$3 path=$4 entrypoint=${5:-}
  local ctx="$work/component-$(basename "$path")"
  mkdir -p "$ctx"
  cp -L "$binary" "$ctx/binary"
  {
    echo "FROM $from"
    echo "COPY binary $path"
    echo "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin"
    [ -n "$entrypoint" ] && echo "ENTRYPOINT $entrypoint"
  } >"$ctx/Dockerfile"
  kind_docker_build "$tag" "$ctx"
}
etcd_version=$(go_required_version "$kind_modules/etcd/go.mod" go.etcd.io/etcd/server/v3)
coredns_version=$(go_required_version "$kind_modules/coredns/go.mod" github.com/coredns/coredns)
kubeadm_images=$("$cp_bin/kubeadm" config images list --kubernetes-version "$k8s_version" 2>/dev/null)
image_named() { grep "/$1:" <<<"$kubeadm_images"; }
etcd_tag=$(image_named etcd)
coredns_tag=$(image_named coredns)
[ "${etcd_tag##*:}" = "${etcd_version#v}-0" ] || { echo "error: kubeadm asks for $etcd_tag but hack/kind/modules/etcd pins $etcd_version" >&2; exit 1; }
[ "${coredns_tag##*:}" = "$coredns_version" ] || { echo "error: kubeadm asks for $coredns_tag but hack/kind/modules/coredns pins $coredns_version" >&2; exit 1; }
pause_tag=$(sed -n 's/^\s*sandbox_image = "\(.*\)"$/\1/p' "$kind_module_dir/images/base/files/etc/containerd/config.toml")
kind_images=$(sed -n 's/^const storage\(Provisioner\|Helper\)Image = "\(.*\)"$/\2/p' "$kind_module_dir/pkg/build/nodeimage/const_storage.go")
kindnetd_tag=$(sed -n 's/.*"\(docker.io\/kindest\/kindnetd:[^"]*\)".*/\1/p' "$kind_module_dir/pkg/build/nodeimage/const_cni.go" | head -1)
provisioner_tag=$(grep local-path-provisioner <<<"$kind_images")
helper_tag=$(grep local-path-helper <<<"$kind_images")

kind_log "building component images"
for component_name in kube-apiserver kube-controller-manager kube-scheduler; do
  component "registry.k8s.io/$component_name:$k8s_version" scratch "$cp_bin/$component_name" "/usr/local/bin/$component_name"
done
component "registry.k8s.io/kube-proxy:$k8s_version" "$rootfs_tools" "$cp_bin/kube-proxy" /usr/local/bin/kube-proxy
component "$etcd_tag" scratch "$kind_bin/etcd" /usr/local/bin/etcd
component "$coredns_tag" scratch "$kind_bin/coredns" /coredns '["/coredns"]'
component "$pause_tag" scratch "$kind_bin/pause" /pause '["/pause"]'
component "$provisioner_tag" scratch "$kind_bin/local-path-provisioner" /usr/local/bin/local-path-provisioner
# The helper runs the provisioner's setup/teardown shell scripts: a shell is all it needs.
mkdir -p "$work/helper" && echo "FROM $rootfs_tools" >"$work/helper/Dockerfile" && kind_docker_build "$helper_tag" "$work/helper"
# Placeholder under kindnetd's tag, only so that `kind build node-image` finds every image it lists; our
# cluster config disables kind's default CNI, so it never runs (it would only pause).
component "$kindnetd_tag" scratch "$kind_bin/pause" /bin/kindnetd '["/bin/kindnetd"]'

# --- node image ----------------------------------------------------------------------------------
tarball_root="$work/tarball"
server_bin="$tarball_root/kubernetes/server/bin"
mkdir -p "$server_bin"
echo "$k8s_version" >"$tarball_root/kubernetes/version"
for b in kubeadm kubelet kubectl; do cp -L "$cp_bin/$b" "$server_bin/"; done
extra_images=("$etcd_tag" "$coredns_tag" "$pause_tag" "$provisioner_tag" "$helper_tag" "$kindnetd_tag")
for component_name in kube-apiserver kube-controller-manager kube-scheduler; do
  docker save "registry.k8s.io/$component_name:$k8s_version" -o "$server_bin/$component_name.tar"
done
# kube-proxy.tar carries the other images too; kind reads only the first metadata entry of an archive,
# so `repositories` goes first and names every image, registry spelled out as kind compares it.
proxy_dir="$work/proxy-archive"
mkdir -p "$proxy_dir"
docker save "registry.k8s.io/kube-proxy:$k8s_version" "${extra_images[@]}" | tar -C "$proxy_dir" -x
jq -n --argjson manifest "$(cat "$proxy_dir/manifest.json")" '
  reduce ($manifest[] | . as $image | .RepoTags[] | {tag: ., layer: ($image.Layers[-1] | split("/")[0])}) as $t
    ({}; ($t.tag | sub(":[^:]*$"; "")) as $repo
      | ($repo | if test("^[^/]+\\.[^/]+/") then . else "docker.io/" + . end) as $full
      | .[$full][$t.tag | sub("^.*:"; "")] = $t.layer)' >"$proxy_dir/repositories"
(cd "$proxy_dir" && tar -cf "$server_bin/kube-proxy.tar" repositories $(ls -A | grep -vx repositories))
tar -C "$tarball_root" -czf "$work/kubernetes-server-linux-amd64.tar.gz" kubernetes
kind_log "building the node image $node_image"
kind build node-image --type file "$work/kubernetes-server-linux-amd64.tar.gz" \
  --base-image "$base_image" --image "$node_image" >"$work/node-image.log" 2>&1 || {
  echo "error: kind build node-image failed; its log: $work/node-image.log" >&2; tail -30 "$work/node-image.log" >&2; exit 1; }
if grep -qi "pull" "$work/node-image.log" && grep -qi "failed to pull" "$work/node-image.log"; then
  echo "error: kind build node-image tried to pull an image; see $work/node-image.log" >&2; exit 1
fi

# --- kube-router -----------------------------------------------------------------------------------
component "$kube_router_image" "$rootfs_tools" "$kind_bin/kube-router" /usr/local/bin/kube-router '["/usr/local/bin/kube-router"]'

# --- Node 24 base for our Dockerfile ---------------------------------------------------------------
node24_ctx="$work/node24"
mkdir -p "$node24_ctx"
node_binary=$(node -e "process.stdout.write(process.execPath)")
case "$("$node_binary" --version)" in v24.*) ;; *) echo "error: run through the Makefile, whose PATH puts the pinned Node 24 first (found $("$node_binary" --version))" >&2; exit 1 ;; esac
cp -L "$node_binary" "$node24_ctx/node"
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
cp -r "$npm_dir" "$node24_ctx/npm"
# The local base trusts what this machine trusts (some sandboxes intercept TLS to the registries).
cp -L /etc/ssl/certs/ca-certificates.crt "$node24_ctx/ca-certificates.crt"
cat >"$node24_ctx/Dockerfile" <<DOCKERFILE
FROM $rootfs_runtime
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' > /usr/local/etc/npmrc \\
 && node --version && npm --version
DOCKERFILE
kind_docker_build "$node24_image" "$node24_ctx"

rm -rf "$work"
kind_log "images built in $((SECONDS - started))s"
printf '%s\n' "$node_image" "$kube_router_image" "$node24_image"
