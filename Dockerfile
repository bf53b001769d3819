# syntax=docker/dockerfile:1
# kseal images for Docker users; `make image` builds the same images without
# Docker (hack/image). Two targets:
#
#   docker build -t kseal-controller .                 # the controller (default)
#   docker build --target cmp -t kseal-cmp .           # the Argo CD plugin sidecar
#
# Multi-arch with buildx (cross-compiled, no emulation):
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse HEAD) \
#     -t registry.example.com/kseal-controller:dev --push .
#
# Both run as 65532:65532 on distroless/static (CA certificates, no shell;
# the sidecar adds a POSIX shell, mvdan.cc/sh, for its generate command).

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS=linux TARGETARCH=amd64 VERSION=dev COMMIT=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
ENV CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOFLAGS=-buildvcs=false
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    ldflags="-s -w -X github.com/kseal-dev/kseal/internal/version.version=${VERSION} -X github.com/kseal-dev/kseal/internal/version.commit=${COMMIT}" && \
    go build -trimpath -ldflags "$ldflags" -o /out/usr/local/bin/kseal-controller ./cmd/kseal-controller && \
    go build -trimpath -ldflags "$ldflags" -o /out/usr/local/bin/kseal ./cmd/kseal && \
    go build -trimpath -ldflags "-s -w" -o /out/bin/sh mvdan.cc/sh/v3/cmd/gosh && \
    mkdir -p /out/usr/local/share/kseal/buildinfo && \
    for b in kseal-controller kseal; do \
      go version -m /out/usr/local/bin/$b > /out/usr/local/share/kseal/buildinfo/$b.txt; \
    done

FROM gcr.io/distroless/static-debian12:nonroot AS cmp
ARG VERSION=dev COMMIT=unknown
LABEL org.opencontainers.image.title=kseal-cmp \
      org.opencontainers.image.source=https://github.com/kseal-dev/kseal \
      org.opencontainers.image.version=$VERSION \
      org.opencontainers.image.revision=$COMMIT
COPY --from=build /out/usr/local/bin/kseal /usr/local/bin/kseal
COPY --from=build /out/bin/sh /bin/sh
COPY --from=build /out/usr/local/share/kseal/buildinfo/kseal.txt /usr/local/share/kseal/buildinfo/
ENV PATH=/usr/local/bin:/bin
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kseal"]

FROM gcr.io/distroless/static-debian12:nonroot AS controller
ARG VERSION=dev COMMIT=unknown
LABEL org.opencontainers.image.title=kseal-controller \
      org.opencontainers.image.source=https://github.com/kseal-dev/kseal \
      org.opencontainers.image.version=$VERSION \
      org.opencontainers.image.revision=$COMMIT
COPY --from=build /out/usr/local/bin/kseal-controller /usr/local/bin/kseal-controller
COPY --from=build /out/usr/local/share/kseal/buildinfo/kseal-controller.txt /usr/local/share/kseal/buildinfo/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kseal-controller"]
