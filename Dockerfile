# syntax=docker/dockerfile:1
#
# One image for every role. The role is the command:
#
#   docker run IMAGE vigil-api          (the default)
#   docker run IMAGE vigil-scheduler
#   docker run IMAGE vigil-worker --region europe   (or VIGIL_REGION=europe)
#   docker run IMAGE vigil-notifier
#
# vigil-healthcheck is the container health check: the final image is distroless (no shell,
# no curl), so docker-compose's healthcheck runs this static binary, which GETs /healthz.
# Every binary is static (CGO_ENABLED=0) and runs as the distroless nonroot user (65532).

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w" -o /out/vigil-api ./cmd/api && \
    go build -trimpath -ldflags "-s -w" -o /out/vigil-scheduler ./cmd/scheduler && \
    go build -trimpath -ldflags "-s -w" -o /out/vigil-worker ./cmd/worker && \
    go build -trimpath -ldflags "-s -w" -o /out/vigil-notifier ./cmd/notifier && \
    go build -trimpath -ldflags "-s -w" -o /out/vigil-healthcheck ./cmd/healthcheck

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="vigil" \
      org.opencontainers.image.description="Vigil uptime monitoring: api, scheduler, worker and notifier" \
      org.opencontainers.image.source="https://github.com/vigil-monitor/vigil"
COPY --from=build /out/vigil-api /usr/local/bin/vigil-api
COPY --from=build /out/vigil-scheduler /usr/local/bin/vigil-scheduler
COPY --from=build /out/vigil-worker /usr/local/bin/vigil-worker
COPY --from=build /out/vigil-notifier /usr/local/bin/vigil-notifier
COPY --from=build /out/vigil-healthcheck /usr/local/bin/vigil-healthcheck
USER nonroot:nonroot
# 3002: the api (API_ADDR). 9090: /metrics, /healthz and /readyz of every role (VIGIL_METRICS_ADDR).
EXPOSE 3002 9090
ENV VIGIL_METRICS_ADDR=:9090
CMD ["/usr/local/bin/vigil-api"]
