# Every target runs on the Node 24 that package.json pins (npm package `node`), not the machine's Node.
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

NODE_MODULES := node_modules/.package-lock.json

.PHONY: test health-test kind-test kind-cluster kind-cluster-stop demo demo-stop cluster cluster-stop deps system-deps controlplane seaweedfs lint typecheck unit integration bench build clean

## test: lint, typecheck, the Argo CD health checks, unit and integration tests, then the kind suite (real pods);
## installs what it needs first; the kind suite's images are built (or found) in the background meanwhile
test: deps
	@bash hack/kind/prepare.sh start
	npm run --silent lint
	npm run --silent typecheck
	@$(MAKE) --no-print-directory health-test
	vitest run --project unit --project integration
	@bash hack/kind/prepare.sh wait
	@$(MAKE) --no-print-directory kind-test

## health-test: the chart's Argo CD health checks (charts/tenant-backup-operator/health) run by the Lua
## interpreter Argo CD embeds (gopher-lua from the Go module proxy), with Go's caches under .cache/go
health-test:
	@command -v go >/dev/null || { echo "error: Go 1.26+ is needed for the Argo CD health check tests (apt-get install golang)" >&2; exit 1; }
	cd hack/health-test && GOTOOLCHAIN=local GOFLAGS=-modcacherw GOMODCACHE=$(CURDIR)/.cache/go/mod GOCACHE=$(CURDIR)/.cache/go/build go test -count=1 ./...

## kind-test: only the end-to-end suite on a kind cluster (built offline here; see hack/kind/README.md); the
## cluster is made for the run and removed after it (KEEP_KIND_CLUSTER=1 keeps it)
kind-test: deps
	vitest run --project kind

## kind-cluster / kind-cluster-stop: a kind cluster laid out as datacenters, without the operator (NAME=dev)
kind-cluster: deps
	@bash hack/kind/cluster.sh up $(NAME)

kind-cluster-stop:
	@bash hack/kind/cluster.sh down $(NAME)

## demo: a local control plane with simulated datacenters, the operator on it, and the examples applied
demo: deps
	@node hack/demo.ts

## demo-stop: stop the demo's control plane and operator
demo-stop:
	@node hack/cluster.ts stop demo

## cluster / cluster-stop: a bare local control plane (no operator), NAME=dev by default
NAME ?= dev
cluster: deps
	@node hack/cluster.ts start $(NAME)

cluster-stop:
	@node hack/cluster.ts stop $(NAME)

deps: $(NODE_MODULES) system-deps controlplane seaweedfs

$(NODE_MODULES): package.json package-lock.json
	npm ci
	@touch $@

system-deps:
	@bash hack/system-deps.sh

controlplane:
	@bash hack/controlplane/build.sh >/dev/null

## seaweedfs: the S3 server of the export tests (built once, cached in .cache/seaweedfs)
seaweedfs:
	@bash hack/seaweedfs/build.sh >/dev/null

lint: $(NODE_MODULES)
	npm run --silent lint

typecheck: $(NODE_MODULES)
	npm run --silent typecheck

unit: $(NODE_MODULES)
	vitest run --project unit

integration: deps
	vitest run --project integration

bench: deps
	npm run --silent bench

build: $(NODE_MODULES)
	npm run --silent build

clean:
	rm -rf dist coverage .cache/clusters
