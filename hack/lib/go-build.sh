# Shared by hack/controlplane/build.sh and hack/kind/binaries.sh: build the `tool` binaries of a pinned Go
# module once per (module pins, Go version, flags), cached by that key, and link them into a bin folder.
# Source it; set GO_BUILD_CACHE (where built trees live) and GO_BUILD_BIN (where links go) first.
# Go's own module and build caches (GOMODCACHE, GOCACHE) are reused, so a rebuild after a pin change is incremental.

if ! command -v go >/dev/null 2>&1; then
  echo "error: Go is required to build the test binaries (Go 1.26+: https://go.dev/doc/install; on Debian: apt-get install golang)" >&2
  exit 1
fi

go_cache_key() { # <module dir> <extra>
  { cat "$1/go.mod" "$1/go.sum"; go env GOVERSION; echo "$2"; } | sha256sum | cut -c1-12
}

# go_build_tools <name> <module dir> <version> <ldflags> <output-name=tool-name>...
# CGO_ENABLED defaults to 0 (static binaries that run in any image); set GO_BUILD_CGO=1 and GO_BUILD_TAGS
# for the few tools that need C (runc and libseccomp).
go_build_tools() {
  local name=$1 dir=$2 version=$3 ldflags=$4
  shift 4
  local cgo=${GO_BUILD_CGO:-0} tags=${GO_BUILD_TAGS:-}
  local key target
  local extra=$ldflags
  [ "$cgo" = 0 ] && [ -z "$tags" ] || extra+=" cgo=$cgo tags=$tags"
  key=$(go_cache_key "$dir" "$extra")
  target="$GO_BUILD_CACHE/$name-$version-$key"
  mkdir -p "$GO_BUILD_CACHE"
  # Two runs building the same target (parallel make, a test and a script) wait for each other.
  local lock
  exec {lock}>"$target.lock"
  flock "$lock"
  if [ ! -f "$target/.complete" ]; then
    echo "building $name $version (cold builds take minutes to tens of minutes on 2 cores; cached afterwards in $target)" >&2
    local started=$SECONDS tmp="$target.tmp"
    rm -rf "$tmp" && mkdir -p "$tmp"
    local extldflags=""
    [ "$cgo" = 1 ] && extldflags="-extldflags -static"
    (cd "$dir" && GOFLAGS=-buildvcs=false CGO_ENABLED=$cgo go build -trimpath ${tags:+-tags "$tags"} \
      -ldflags "-s -w $ldflags $extldflags" -o "$tmp/" tool)
    for pair in "$@"; do [ "${pair#*=}" = "${pair%%=*}" ] || mv "$tmp/${pair#*=}" "$tmp/${pair%%=*}"; done
    echo "$version" > "$tmp/VERSION"
    touch "$tmp/.complete"
    rm -rf "$target" && mv "$tmp" "$target"
    echo "built $name $version in $((SECONDS - started))s" >&2
  fi
  flock -u "$lock"
  exec {lock}>&-
  mkdir -p "$GO_BUILD_BIN"
  for pair in "$@"; do ln -sfn "$target/${pair%%=*}" "$GO_BUILD_BIN/${pair%%=*}"; done
}

go_required_version() { # <go.mod> <module path>
  awk -v m="$2" '$1 == m && $2 ~ /^v/ {print $2; exit} $1 == "require" && $2 == m {print $3; exit}' "$1"
}
