# The --node-debug-image image: one static kubectl-packetwalk binary and nothing else (no shell, no
# package manager). The debug pod runs `/kubectl-packetwalk collect node --node-name NODE` with the
# node's network and PID namespaces and prints the node's facts as a snapshot on stdout.
#
#   docker build -t registry.example/packetwalk:dev .
#   kubectl packetwalk trace POD --to node/NAME --node-debug-image registry.example/packetwalk:dev
#
# GO_IMAGE is the build stage's Go image; the lab (testdata/node/images.sh) has no registry and
# passes a local image of the host's toolchain.
ARG GO_IMAGE=golang:1.26
FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/kubectl-packetwalk ./cmd/kubectl-packetwalk

FROM scratch
COPY --from=build /out/kubectl-packetwalk /kubectl-packetwalk
USER 0
ENTRYPOINT ["/kubectl-packetwalk"]
