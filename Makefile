# kubectl-packetwalk
SHELL := /bin/bash
GO ?= go
BIN := bin/kubectl-packetwalk
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -s -w -X github.com/packetwalk/kubectl-packetwalk/cmd.Version=$(VERSION)
PUBLISHED := testdata/scenarios/nsx-published/snapshot.json
# Lab tests need root, OVS and OVN; in CI (CI=true) they fail instead of skipping.
TEST_TIMEOUT ?= 40m
FUZZTIME ?= 20s

PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

.PHONY: kube-bins all build test unit vet fmt-check cross demo demo-broken lab-up lab-down bench fuzz update-golden docs dist install clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/kubectl-packetwalk

## demo: trace kube-dns to node 172.15.0.4 in the bundled published NSX-T snapshot
demo: build
	./$(BIN) trace -n kube-system kube-dns --to node/172.15.0.4 --snapshot $(PUBLISHED)

## demo-broken: the same walk with the CHILD port's traffic tag wrong (exits 1)
demo-broken: build
	-./$(BIN) trace -n kube-system kube-dns --to node/172.15.0.4 --snapshot testdata/scenarios/nsx-published/broken/vlan-mismatch.json

## test: static checks, then every test (lab tests need root; see README)
test: fmt-check vet cross
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

## unit: the tests that need nothing but Go (-short skips the lab and kube-apiserver tests, saying so)
unit:
	$(GO) test -short -count=1 ./trace/... ./render/... ./cmd/... ./collect/...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## cross: the code builds for the other systems kubectl runs on
cross:
	GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./...
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./...

update-golden: docs
	$(GO) test ./trace/scenario/ -run TestFilesUpToDate -update
	$(GO) test ./render/ -update

## docs: regenerate docs/ (Markdown and man pages) from the command tree; CI fails when stale
docs:
	$(GO) test ./cmd/ -run TestDocsAreCurrent -update

## install: into $(GOBIN) (or GOPATH/bin), where kubectl finds it as `kubectl packetwalk`
install:
	$(GO) install -trimpath -ldflags '$(LDFLAGS)' ./cmd/kubectl-packetwalk

## dist: static binaries for every platform, one .tar.gz each, and their SHA-256 sums
dist:
	@rm -rf dist && mkdir -p dist
	@set -e; for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  d=dist/kubectl-packetwalk_$${os}_$${arch}; mkdir -p $$d; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$d/kubectl-packetwalk$$ext ./cmd/kubectl-packetwalk; \
	  cp README.md $$d/; tar -C $$d -czf $$d.tar.gz .; rm -rf $$d; echo "dist: $$d.tar.gz"; \
	done
	cd dist && sha256sum *.tar.gz > SHA256SUMS

## kube-bins: kube-apiserver and etcd for the tests, built once into $(PW_CACHE)/bin (cold: ~5 min)
PW_CACHE ?= /var/cache/packetwalk
kube-bins:
	PW_CACHE=$(PW_CACHE) bash testdata/kube/build.sh

## lab-up / lab-down: the published topology on real OVS + OVN in network namespaces (root)
lab-up:
	bash testdata/lab/lab.sh up

lab-down:
	bash testdata/lab/lab.sh down

## bench: benchmarks with their numbers; the scale run (~7 min, ~4 GB) and the lab start-up run (root) rewrite testdata/bench/results.md
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./trace/... ./render/...
	$(GO) test -run '^$$' -bench . -benchtime 3x ./collect/ovs/
	$(GO) test -run '^$$' -bench CollectNode250 -benchtime 5x ./collect/node/
	$(GO) test -count=1 -timeout 60m -run '^TestWriteResults$$' -v ./collect/scale/ -args -write
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkLabStart$$' -benchtime 31x ./cmd/ -args -write-start

## fuzz: each fuzz target for FUZZTIME
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

clean:
	rm -rf bin dist
