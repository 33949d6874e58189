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
    # Relative paths, so that every clone of the project computes the same key. The scripts that only
    # use the images (the cluster, the background build, the engine) are not inputs.
    (cd "$kind_root" && find hack/kind -type f ! -name '*.md' ! -name '*.test.ts' ! -name cluster.sh ! -name prepare.sh ! -name dockerd.sh -print0 | sort -z | xargs -0 sha256sum)
    (cd "$kind_root" && sha256sum hack/controlplane/kubernetes/go.mod hack/controlplane/kubernetes/go.sum hack/lib/go-build.sh)
    go env GOVERSION
    machine_lacks_cap_sys_resource && echo no-cap-sys-resource
    machine_is_cgroup_v1 && echo cgroup-v1
  } | sha256sum | cut -c1-12
}

kind_log() { echo "kind: $*" >&2; }

# The Docker engine hack/kind/dockerd.sh started (its pid), if it started one and it runs.
kind_own_dockerd_pid() {
  local pidfile="$KIND_CACHE/dockerd/dockerd.pid" pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Whether the engine can start a container: a build's RUN steps need exactly that (containerd starting a
# shim), while `docker info` answers even when containerd does not.
kind_engine_runs_containers() { # <image present locally>
  docker run --rm --network none --entrypoint /bin/true "$1" >/dev/null 2>&1 ||
    docker run --rm --network none "$1" true >/dev/null 2>&1
}

# After a build failed in the engine (not in the Dockerfile): give it time, and when it still cannot start
# containers and it is ours and idle, restart it. An engine these scripts did not start, or one with running
# containers (someone's cluster), is never restarted: it is only waited for.
kind_engine_recover() { # <image present locally, to probe with>
  local probe=$1 pid
  for _ in 1 2 3 4 5 6; do
    if kind_engine_runs_containers "$probe"; then return 0; fi
    sleep 5
  done
  if pid=$(kind_own_dockerd_pid) && [ -z "$(docker ps -q 2>/dev/null)" ]; then
    kind_log "the Docker engine cannot start containers; restarting the dockerd these scripts started (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
    bash "$kind_here/dockerd.sh" >&2
  fi
}

# The first FROM of a Dockerfile, with ${ARG}s given by --build-arg ARG=value resolved: an image to probe the
# engine with, since the build has it locally ("scratch" or an unresolved ARG when there is none).
kind_dockerfile_base() { # <Dockerfile> [docker build flags]
  local base arg
  base=$(awk 'toupper($1) == "FROM" {print $2; exit}' "$1")
  shift
  while [ $# -gt 0 ]; do
    if [ "$1" = --build-arg ] && [ $# -gt 1 ]; then
      arg=${2%%=*}
      base=${base//"\${$arg}"/${2#*=}}
      shift
    fi
    shift
  done
  echo "$base"
}

# docker build with the legacy builder: this Docker has no buildx, and BuildKit would try to pull its frontend.
# A build is repeatable, so one that failed in the engine (a shim that did not start: once the symptom of
# the engine running with kind's containerd shim, see dockerd.sh) is tried again once the engine starts
# containers again (kind_engine_recover); one that failed otherwise is tried again after a pause.
kind_docker_build() { # <tag> <context dir> [more docker build flags]; the Dockerfile is <context>/Dockerfile
  local tag=$1 context=$2 attempt output attempts=4 base
  shift 2
  base=$(kind_dockerfile_base "$context/Dockerfile" "$@")
  for attempt in $(seq 1 $attempts); do
    if output=$(DOCKER_BUILDKIT=0 docker build -q "$@" -t "$tag" "$context" 2>&1); then return 0; fi
    kind_log "docker build of $tag failed (attempt $attempt of $attempts): $(tail -3 <<<"$output")"
    [ "$attempt" = "$attempts" ] && break
    if grep -qiE 'shim|containerd|ttrpc|connection refused|connection reset' <<<"$output" &&
       [[ "$base" != *'$'* && "$base" != scratch ]]; then
      kind_engine_recover "$base"
    else
      sleep $((attempt * 10))
    fi
  done
  echo "error: docker build of $tag failed $attempts times; last output:" >&2
  echo "$output" >&2
  if [ -f "$KIND_CACHE/dockerd/dockerd.log" ]; then
    echo "the end of the engine's log ($KIND_CACHE/dockerd/dockerd.log):" >&2
    tail -30 "$KIND_CACHE/dockerd/dockerd.log" >&2
  fi
  return 1
}
