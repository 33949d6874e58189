# One image for everything the project runs in a cluster: `operator`, the space gateways it starts
# (`--gateway-image` defaults to this same image, so upgrading the operator rolls them — S3), and the
# offline `validate` command for GitOps pipelines.
#
#   docker build -t tenant-backup-operator:dev .
#   docker run --rm tenant-backup-operator:dev --help
#
# Node 24 is the runtime package.json pins (engines, and the `node` devDependency for npm scripts).
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: compile src/ to dist/ with the locked toolchain -------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Dev dependencies included: the build needs TypeScript (and the pinned `node` package npm scripts use).
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- deps: production dependencies only, without install scripts (none of them needs one) -------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime --------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="tenant-backup-operator" \
      org.opencontainers.image.description="Kubernetes operator for multi-tenant Cloud Backup: segregated, encrypted, quota-bound backup spaces pinned to national datacenters; also the spaces' restic REST gateway." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/tenant-backup/tenant-backup-operator" \
      org.opencontainers.image.base.name="docker.io/library/node:24-bookworm-slim"
# Nothing at run time installs packages: drop npm, npx, corepack and yarn, which would only add CVEs.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
ENV NODE_ENV=production
WORKDIR /app
# package.json carries "type": "module", which makes dist/*.js ES modules.
COPY --chown=0:0 package.json ./
COPY --chown=0:0 --from=deps /app/node_modules ./node_modules
COPY --chown=0:0 --from=build /src/dist ./dist
# Files stay root-owned and read-only to the process; it runs as the distroless "nonroot" uid, numeric
# so that Kubernetes' runAsNonRoot can verify it without a passwd lookup.
USER 65532:65532
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["--help"]
