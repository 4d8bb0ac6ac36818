# bond CNI plugin. The two commands a user needs: `make demo` and `make test`.
# Both install what a fresh Debian machine lacks (they say so as they do).
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
export CGO_ENABLED := 0

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN     := bin

.PHONY: all build test unit kernel-test sriov-test demo bench fuzz clean deps release image manifests

all: build

## build: static binaries of every command in cmd/ (bond, bond-debugd) in bin/
build:
	go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

## release: static binaries of every command (bond, bond-debugd) and of bond-install for
## linux/amd64 and linux/arm64 in dist/, with SHA256SUMS; the host's own are run to check
## the version stamp. `make test` runs it, so it cannot break unnoticed.
PLATFORMS := linux/amd64 linux/arm64
# Every directory under cmd/ is a command (a cmd/internal would not be).
CMDS      := $(filter-out internal,$(patsubst cmd/%/,%,$(wildcard cmd/*/)))
release:
	rm -rf dist && mkdir -p dist
	set -e; for p in $(PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; \
	  for c in $(CMDS); do GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags "$(LDFLAGS)" -o dist/$$c-$$os-$$arch ./cmd/$$c; done; \
	  GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags "$(LDFLAGS)" -o dist/bond-install-$$os-$$arch ./deploy/installer; \
	done
	cd dist && sha256sum -- * > SHA256SUMS && sha256sum -c --quiet SHA256SUMS
	@set -e; h=$$(go env GOOS)-$$(go env GOARCH); n=$$(ls dist | grep -c -- '-linux-'); \
	  want=$$(( ($(words $(CMDS)) + 1) * $(words $(PLATFORMS)) )); \
	  [ "$$n" -eq "$$want" ] || { echo "release: $$n binaries in dist/, want $$want" >&2; exit 1; }; \
	  if [ -x dist/bond-$$h ]; then \
	  dist/bond-$$h 2>&1 | grep -F "bond CNI plugin $(VERSION) (commit $(COMMIT))"; \
	  dist/bond-debugd-$$h --version | grep -F "bond-debugd $(VERSION) (commit $(COMMIT)"; \
	  dist/bond-install-$$h -help 2>&1 | grep -q -- -dest; fi
	@cat dist/SHA256SUMS

## image: OCI image archives (linux/amd64, linux/arm64, and an index of both) from the
## release binaries, with go-containerregistry (no engine, no registry), then read back and
## checked: platforms, entrypoint, files, modes, static binaries, and the installer runs.
image: release
	cd deploy/image && go run . -dist ../../dist -version $(VERSION) -commit $(COMMIT)
	cd dist && sha256sum -- $$(ls | grep -v '^SHA256SUMS$$') > SHA256SUMS && sha256sum -c --quiet SHA256SUMS
	cd deploy/image && go vet ./... && BOND_IMAGE_DIST=$(CURDIR)/dist go test -count=1 ./...

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
	$(MAKE) --no-print-directory manifests fuzz image

## fuzz: the fuzz targets, each for a bounded number of inputs (about 15 s
## each on a 2-core machine). A count, not a duration: with -fuzztime=15s,
## Go 1.26's fuzz coordinator can report its own stop deadline as a failure
## ("context deadline exceeded", no failing input; golang/go#75804, fixed
## in Go 1.27). FUZZSCALE multiplies the counts (FUZZSCALE=10 for a long run).
FUZZSCALE ?= 1
fuzz:
	go test -run='^$$' -fuzz='^FuzzParseConfig$$' -fuzztime=$$((300000 * $(FUZZSCALE)))x ./domain/
	go test -run='^$$' -fuzz='^FuzzAddDel$$' -fuzztime=$$((200000 * $(FUZZSCALE)))x ./app/
	go test -run='^$$' -fuzz='^FuzzNext$$' -fuzztime=$$((600000 * $(FUZZSCALE)))x ./adapters/nlsock/

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
