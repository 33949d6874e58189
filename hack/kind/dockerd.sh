#!/usr/bin/env bash
# Makes sure a Docker engine answers: uses the one running, or starts Debian's dockerd (docker.io) when
# none does. On machines whose capability bounding set lacks CAP_SYS_RESOURCE (some VMs), `docker run
# --privileged` — which kind's nodes need — fails with "unable to apply caps"; there dockerd gets a runtime
# wrapper (runc-drop-sys-resource) as its default runtime that removes that one capability from each
# container's OCI config before calling runc. Machines that have the capability run plain runc.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
state="${KIND_CACHE:-$root/.cache/kind}/dockerd"

if docker info >/dev/null 2>&1; then exit 0; fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "error: no Docker engine answers and dockerd is not installed: apt-get install docker.io (or start Docker)" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "error: no Docker engine answers, and starting dockerd needs root: run as root, or start Docker and add yourself to the docker group" >&2
  exit 1
fi

mkdir -p "$state"
args=(--host=unix:///var/run/docker.sock --pidfile="$state/dockerd.pid")
cap_bounding=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
cap_sys_resource=$((1 << 24))
if (( (16#$cap_bounding & cap_sys_resource) == 0 )); then
  echo "this machine lacks CAP_SYS_RESOURCE: dockerd runs containers through $here/runc-drop-sys-resource" >&2
  args+=(--add-runtime "drop-sys-resource=$here/runc-drop-sys-resource" --default-runtime drop-sys-resource)
fi

echo "starting dockerd (log: $state/dockerd.log)" >&2
# With the system's PATH, as its service manager would start it: the callers' PATH leads with
# .cache/kind/bin, which holds the containerd and containerd-shim-runc-v2 built for kind's node image
# (containerd 2). dockerd looks both up in PATH when it starts its containerd, and that containerd looks the
# shim up at its first container: started before those builds existed, Debian's containerd 1.6 later took
# the containerd 2 shim, could not read its reply and failed every build from then on ("failed to start
# shim ... connection refused", the cold CI run's failure); started after them, the host ran kind's
# containerd. At normal priority whatever the caller's: make test starts this from a background job at
# nice 19, and an engine started there (its containerd, every container, kind's nodes) would inherit it.
# setsid: the engine outlives the job that started it.
system_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PATH=$system_path nohup setsid nice -n "-$(nice)" dockerd "${args[@]}" >>"$state/dockerd.log" 2>&1 < /dev/null &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "error: dockerd did not answer within 60 s; its log: $state/dockerd.log" >&2
tail -20 "$state/dockerd.log" >&2
exit 1
