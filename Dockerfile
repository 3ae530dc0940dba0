# syntax=docker/dockerfile:1
# onnx-serve image: build with dev dependencies, ship only production ones.
#   docker build -t onnx-serve .
#   docker run --rm -p 8000:8000 -p 8001:8001 onnx-serve
# Both stages use the same slim Debian base: the build stage's native modules (onnxruntime-node)
# then match the runtime's glibc, and the runtime keeps /bin/sleep for the Kubernetes preStop hook.
# Node 24, the current LTS (package.json engines names the lines the suite runs on).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# onnxruntime-node's postinstall would download CUDA binaries from outside the npm registry;
# the CPU binaries ship inside the package (package.json's allowScripts says the same to npm 11).
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund
# onnxruntime-node ships every platform's binaries (~288 MB under bin/napi-v*/): keep only
# linux/<this image's architecture>. BuildKit sets TARGETARCH; the classic builder leaves it empty.
ARG TARGETARCH
RUN case "${TARGETARCH:-amd64}" in amd64) keep=x64 ;; arm64) keep=arm64 ;; *) echo "unsupported arch ${TARGETARCH}" >&2; exit 1 ;; esac \
    && for napi in node_modules/onnxruntime-node/bin/napi-v*; do \
         find "$napi" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} + \
         && find "$napi/linux" -mindepth 1 -maxdepth 1 ! -name "$keep" -exec rm -rf {} + \
         && test -d "$napi/linux/$keep" || exit 1; \
       done
# tokenizers (Hugging Face's, for text inputs) ships one binary per platform (64 MB): keep linux glibc's.
RUN case "${TARGETARCH:-amd64}" in amd64) keep=x64 ;; arm64) keep=arm64 ;; *) echo "unsupported arch ${TARGETARCH}" >&2; exit 1 ;; esac \
    && find node_modules/tokenizers -maxdepth 1 -name 'tokenizers.*.node' ! -name "tokenizers.linux-$keep-gnu.node" -delete \
    && test -f "node_modules/tokenizers/tokenizers.linux-$keep-gnu.node"

FROM ${NODE_IMAGE} AS runtime
# MALLOC_ARENA_MAX=2: glibc gives each worker thread its own malloc arenas, and RSS crept up 17% over
# a 10-minute soak without it; with it RSS stayed flat (-1%). See bench/README.md.
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    HOST=0.0.0.0 \
    PORT=8000 \
    MODEL_DIR=/app/models
WORKDIR /app
# A fixed uid/gid so Kubernetes can check runAsNonRoot and k8s/deployment.yaml can name it.
RUN groupadd --system --gid 10001 onnx \
    && useradd --system --uid 10001 --gid onnx --no-create-home --shell /usr/sbin/nologin onnx
# Owned by root and not writable by the server's user: the image is read-only at run time.
# package.json is needed at run time: its "type": "module" makes dist/*.js load as ESM.
COPY package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY models ./models
# The gRPC service's contract, read at start (src/protocols/grpc/proto.ts) and served by reflection.
COPY proto ./proto
USER 10001:10001
# 8000 HTTP (REST, /metrics, probes), 8001 gRPC (Open Inference Protocol, grpc.health.v1).
EXPOSE 8000 8001
# No curl in the image: Node's own fetch does the check.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form, node as PID 1 (not npm, not a shell): SIGTERM reaches the server, which drains
# in-flight requests (close-with-grace, SHUTDOWN_TIMEOUT_MS) and exits 0.
STOPSIGNAL SIGTERM
CMD ["node", "dist/server.js"]
