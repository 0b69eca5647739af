# wsd container image: a static binary on distroless, running as a non-root user.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t wsd .
#   docker run --rm -p 3000:3000 --ulimit nofile=1048576:1048576 -e WSD_LOG_FORMAT=json wsd
#
# Configure with WSD_* variables, or mount a file and point WSD_CONFIG at it:
#   docker run -v $PWD/wsd.yaml:/etc/wsd/wsd.yaml:ro -e WSD_CONFIG=/etc/wsd/wsd.yaml ... wsd
# gnet has no TLS: terminate TLS in front of the container (docs/deploy.md).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
COPY third_party ./third_party
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/wsd ./cmd/wsd \
 && /out/wsd -version

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/wsd /usr/local/bin/wsd
COPY wsd.example.yaml /etc/wsd/wsd.example.yaml
USER nonroot:nonroot
EXPOSE 3000
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/wsd"]
