# bond CNI plugin. The two commands a user needs: `make demo` and `make test`.
# Both install what a fresh Debian machine lacks (they say so as they do).
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
export CGO_ENABLED := 0

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN     := bin

.PHONY: all build test unit kernel-test demo fuzz clean deps

all: build

## build: static plugin binary in bin/
build:
	go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/bond ./cmd/bond

deps:
	@command -v go >/dev/null || { echo "Go 1.26 is required (https://go.dev/dl)"; exit 1; }
	@go mod download
	@integration/vm/deps.sh

## test: unit tests, then the real-kernel lane in a QEMU VM
test: deps unit kernel-test

unit:
	go vet ./...
	go test -count=1 ./...

kernel-test:
	integration/kernel-tests.sh $(RUN)

## demo: boots the real kernel and runs the seed's two scenarios end to end
demo: deps
	integration/demo.sh

clean:
	rm -rf $(BIN) .cache
