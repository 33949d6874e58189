# Every target runs on the Node 24 that package.json pins (npm package `node`), not the machine's Node.
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

NODE_MODULES := node_modules/.package-lock.json

.PHONY: test demo deps system-deps controlplane lint typecheck unit integration bench build cluster-start cluster-stop clean

## test: lint, typecheck, unit and integration tests; installs what it needs first
test: deps
	npm run --silent lint
	npm run --silent typecheck
	vitest run

## demo: a local control plane with simulated datacenters, and its nodes
demo: deps
	@kubeconfig=$$(node hack/cluster.ts start demo) && \
	  echo "KUBECONFIG=$$kubeconfig" && \
	  .cache/controlplane/bin/kubectl --kubeconfig "$$kubeconfig" get nodes \
	    -L tenantbackup.io/country -L topology.kubernetes.io/region -L topology.kubernetes.io/zone

deps: $(NODE_MODULES) system-deps controlplane

$(NODE_MODULES): package.json package-lock.json
	npm ci
	@touch $@

system-deps:
	@bash hack/system-deps.sh

controlplane:
	@bash hack/controlplane/build.sh >/dev/null

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

cluster-stop:
	node hack/cluster.ts stop demo

clean:
	rm -rf dist coverage .cache/clusters
