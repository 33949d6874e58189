#!/usr/bin/env bash
# rootfs.sh <name> <image> <package,package,...>: a Debian bookworm root filesystem made by debootstrap
# (minbase plus the packages named) and imported into Docker as <image>. Skipped when <image> exists:
# the caller puts a hash of the inputs in its tag, so Docker's image store is the cache.
set -euo pipefail
name=$1 image=$2 packages=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work="${KIND_CACHE:-$root/.cache/kind}/rootfs/$name"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$image" >/dev/null 2>&1; then exit 0; fi
command -v debootstrap >/dev/null || { echo "error: debootstrap is required: apt-get install debootstrap" >&2; exit 1; }

echo "making the $name root filesystem with debootstrap (a few minutes; cached as the image $image)" >&2
started=$SECONDS
rm -rf "$work" && mkdir -p "$work"
debootstrap --variant=minbase --include="$packages" bookworm "$work" "$mirror" >"$work.log" 2>&1 || {
  echo "error: debootstrap failed; its log: $work.log" >&2; tail -20 "$work.log" >&2; exit 1; }
# Package caches and lists only make the image bigger.
rm -rf "$work"/var/cache/apt/archives/*.deb "$work"/var/lib/apt/lists/* "$work"/usr/share/doc/* "$work"/usr/share/man/*
tar -C "$work" --numeric-owner -c . | docker import - "$image" >/dev/null
rm -rf "$work"
echo "made $image in $((SECONDS - started))s" >&2
