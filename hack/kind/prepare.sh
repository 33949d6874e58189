#!/usr/bin/env bash
# prepare.sh start | wait
#
# `start` runs `cluster.sh prepare` (every image of the kind suite: node image, component images, our
# image from the Dockerfile, the client image) in the background at the lowest CPU priority, so that on
# a cold machine those builds overlap the lint, unit and integration tests instead of following them;
# warm, they are only looked up. `wait` waits for it and fails with its log when it failed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

state="$KIND_CACHE/prepare"
case "${1:-}" in
  start)
    mkdir -p "$state"
    rm -f "$state/rc"
    # setsid: a test run that ends (or fails) early does not take the build down with it half-way.
    setsid nohup nice -n 19 bash -c "bash '$here/cluster.sh' prepare > '$state/log' 2>&1; echo \$? > '$state/rc'" >/dev/null 2>&1 < /dev/null &
    echo "kind images: being built or found in the background (log: $state/log)" >&2
    ;;
  wait)
    if [ ! -d "$state" ]; then echo "error: prepare.sh wait without prepare.sh start" >&2; exit 2; fi
    started=$SECONDS
    until [ -f "$state/rc" ]; do sleep 5; done
    rc=$(cat "$state/rc")
    if [ "$rc" != 0 ]; then
      echo "error: building the kind suite's images failed (exit $rc); the end of $state/log:" >&2
      tail -40 "$state/log" >&2
      exit 1
    fi
    echo "kind images: ready (waited $((SECONDS - started))s after the other tests)" >&2
    ;;
  *) echo "usage: prepare.sh start|wait" >&2; exit 2 ;;
esac
