# The service image, also used by docker-compose.yml for the demo's `app` and `sandbox`.
#
# Two stages: `build` installs every dependency and compiles src/ to dist/; `runtime` holds only
# what runs: package.json (the `"type": "module"` and the version the API docs show), the
# production dependencies, dist/, the SQL migrations in drizzle/ (applied at start) and the
# `wa-notify` bin. It runs as the image's unprivileged `node` user, with NODE_ENV=production,
# which makes the configuration insist on real secrets (see the README's "Production image").
#
# Nothing needs to be writable at run time: the service keeps no files and logs to stdout. Run it
# with a read-only root file system (`docker run --read-only`, compose `read_only: true`,
# Kubernetes `readOnlyRootFilesystem: true`); a small tmpfs on /tmp is harmless to add. Whatever
# the file system, /app belongs to root, so the service cannot change its own code.
ARG NODE_IMAGE=node:26-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so editing the source does not invalidate this layer.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY drizzle ./drizzle
COPY bin ./bin
COPY --from=build /app/dist ./dist
# Operators run `wa-notify <command>` in a running container (docker exec, kubectl exec).
RUN ln -s /app/bin/wa-notify.js /usr/local/bin/wa-notify
# jemalloc instead of glibc's malloc: after a burst, glibc keeps the freed native memory (the
# sockets' and buffers') in its arenas and the process stays at its peak; jemalloc's background
# thread gives it back within seconds. With `--expose-gc` below, a process that has gone quiet
# collects the burst's garbage first (IDLE_GC_AFTER_MS), so there is memory to give back.
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 \
  && rm -rf /var/lib/apt/lists/*
ENV LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=background_thread:true,dirty_decay_ms:5000,muzzy_decay_ms:5000

USER node
EXPOSE 3000
# /healthz answers while the process lives; only the `api` role serves HTTP, so a container
# running other roles alone turns this off (`--no-healthcheck`, compose `healthcheck: disable`).
# The slim image has no curl: Node's fetch does it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((res) => process.exit(res.ok ? 0 : 1), () => process.exit(1))"]
# node itself, not npm: it gets SIGTERM directly and shuts down gracefully.
CMD ["node", "--expose-gc", "dist/main.js"]
