# Settings shared by the hack/kind scripts. Source it.
kind_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kind_root=$(cd "$kind_here/../.." && pwd)
KIND_CACHE="${KIND_CACHE:-$kind_root/.cache/kind}"
export KIND_CACHE
kind_modules="$kind_here/modules"

# shellcheck source=../lib/go-build.sh
source "$kind_root/hack/lib/go-build.sh"
k8s_version=$(go_required_version "$kind_root/hack/controlplane/kubernetes/go.mod" k8s.io/kubernetes)
kube_router_version=$(go_required_version "$kind_modules/kube-router/go.mod" github.com/cloudnativelabs/kube-router/v2)

# Where the images come from: `local` builds every image here from Debian packages and Go modules (no
# registry needed); `upstream` pulls kindest/node, kube-router and node:24 as kind users normally do;
# `auto` (default) pulls when a registry answers and builds otherwise.
KIND_IMAGES="${KIND_IMAGES:-auto}"
UPSTREAM_NODE_IMAGE="${KIND_NODE_IMAGE:-kindest/node:$k8s_version}"
UPSTREAM_KUBE_ROUTER_IMAGE="docker.io/cloudnativelabs/kube-router:$kube_router_version"
UPSTREAM_NODE24_IMAGE="node:24-bookworm-slim"

# Machine quirks (see hack/kind/README.md); each workaround is applied only where its test says so.
machine_lacks_cap_sys_resource() {
  local bounding
  bounding=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  (( (16#$bounding & (1 << 24)) == 0 ))
}
machine_is_cgroup_v1() { [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ]; }

# A key for images built here: a hash of every input (these scripts, module pins, Go version, the quirks
# that change what is built), so an image tag names exactly what went into it.
kind_inputs_key() {
  {
    # Relative paths, so that every clone of the project computes the same key.
    (cd "$kind_root" && find hack/kind -type f ! -name '*.md' ! -name '*.test.ts' -print0 | sort -z | xargs -0 sha256sum)
    (cd "$kind_root" && sha256sum hack/controlplane/kubernetes/go.mod hack/controlplane/kubernetes/go.sum hack/lib/go-build.sh)
    go env GOVERSION
    machine_lacks_cap_sys_resource && echo no-cap-sys-resource
    machine_is_cgroup_v1 && echo cgroup-v1
  } | sha256sum | cut -c1-12
}

kind_log() { echo "kind: $*" >&2; }

# docker build with the legacy builder: this Docker has no buildx, and BuildKit would try to pull its frontend.
# Under load, a just-started dockerd's containerd sometimes refuses the build container's shim ("failed to
# start shim ... connection refused"); a build is repeatable, so a failed one is tried again, twice.
kind_docker_build() { # <tag> <context dir> [more docker build flags]; the Dockerfile is <context>/Dockerfile
  local tag=$1 context=$2 attempt output
  shift 2
  for attempt in 1 2 3; do
    if output=$(DOCKER_BUILDKIT=0 docker build -q "$@" -t "$tag" "$context" 2>&1); then return 0; fi
    kind_log "docker build of $tag failed (attempt $attempt of 3): $(tail -3 <<<"$output")"
    sleep $((attempt * 5))
  done
  echo "error: docker build of $tag failed 3 times; last output:" >&2
  echo "$output" >&2
  return 1
}
