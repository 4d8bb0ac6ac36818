# bond CNI plugin. The two commands a user needs: `make demo` and `make test`.
# Both install what a fresh Debian machine lacks (they say so as they do).
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
export CGO_ENABLED := 0

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN     := bin

.PHONY: all build test unit kernel-test sriov-test demo bench fuzz clean deps release manifests

all: build

## build: static binaries of every command in cmd/ (bond, bond-debugd) in bin/
build:
	go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

## release: static binaries for linux/amd64 and linux/arm64 in dist/, with SHA256SUMS
PLATFORMS := linux/amd64 linux/arm64
CMDS      := $(patsubst cmd/%/,%,$(wildcard cmd/*/))
release:
	rm -rf dist && mkdir -p dist
	set -e; for p in $(PLATFORMS); do for c in $(CMDS); do \
	  GOOS=$${p%/*} GOARCH=$${p#*/} go build -trimpath -ldflags "$(LDFLAGS)" -o dist/$$c-$${p%/*}-$${p#*/} ./cmd/$$c; \
	done; done
	cd dist && sha256sum -- * > SHA256SUMS && sha256sum -c --quiet SHA256SUMS
	@set -e; h=$$(go env GOOS)-$$(go env GOARCH); if [ -x dist/bond-$$h ]; then \
	  dist/bond-$$h 2>&1 | grep -F "bond CNI plugin $(VERSION) (commit $(COMMIT))"; \
	  if [ -x dist/bond-debugd-$$h ]; then dist/bond-debugd-$$h --version | grep -F "bond-debugd $(VERSION) (commit $(COMMIT)"; fi; fi
	@cat dist/SHA256SUMS

## manifests: deploy/ manifests decode strictly into the Kubernetes types; NAD configs pass our parser
manifests:
	cd deploy/validate && go vet ./... && go test -count=1 ./...

deps:
	@command -v go >/dev/null || { echo "Go 1.26 is required (https://go.dev/dl)"; exit 1; }
	@go mod download
	@integration/vm/deps.sh
	@integration/vm/sriov-deps.sh
	@command -v chromium >/dev/null || { echo "deps: installing chromium (headless browser test of the bond-debugd page)" >&2; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; }

## test: unit tests, then the real-kernel lane and the SR-IOV lane in QEMU VMs
test: deps unit kernel-test sriov-test

unit:
	go vet ./...
	go test -count=1 ./...
	$(MAKE) --no-print-directory manifests fuzz

## fuzz: the fuzz targets, each for a bounded time (FUZZTIME, default 15s)
FUZZTIME ?= 15s
fuzz:
	go test -run='^$$' -fuzz='^FuzzParseConfig$$' -fuzztime=$(FUZZTIME) ./domain/
	go test -run='^$$' -fuzz='^FuzzAddDel$$' -fuzztime=$(FUZZTIME) ./app/

kernel-test:
	integration/kernel-tests.sh $(RUN)

## sriov-test: the SR-IOV lane: emulated igb PFs with igbvf VFs (QEMU 10, generic kernel)
sriov-test:
	integration/kernel-tests.sh --sriov $(SRIOV_RUN)

## demo: boots the real kernel and runs the seed's two scenarios end to end
demo: deps
	integration/demo.sh

## bench: latency, exec floors, peak RSS, netlink round trips and pods at once on the
## real kernel (QEMU), with the budgets as ratios; writes bench-results/bench.{txt,json,svg}
bench: deps
	BENCH_LDFLAGS="$(LDFLAGS)" integration/bench.sh

clean:
	rm -rf $(BIN) .cache dist
