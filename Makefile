# kt: build, test, benchmark and fuzz. `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

# The go on PATH, else the one in /usr/local/go (Debian CI images do not put
# it on PATH).
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
# gofmt of the same toolchain; evaluated only by `lint`.
GOFMT = $(shell $(GO) env GOROOT)/bin/gofmt

MODULE  := github.com/kt-project/kt
BINARY  := kt
# Both fall back when git is missing, the tree is not a repository, or the
# repository has no commits or no tags yet.
VERSION := $(shell v=$$(git describe --tags --always --dirty 2>/dev/null) && [ -n "$$v" ] && echo "$$v" || echo dev)
COMMIT  := $(shell c=$$(git rev-parse --verify --quiet --short HEAD 2>/dev/null) && [ -n "$$c" ] && echo "$$c" || echo unknown)
LDFLAGS := -X $(MODULE)/commands.Version=$(VERSION) -X $(MODULE)/commands.Commit=$(COMMIT)
# urfave_cli_no_docs leaves out urfave/cli's man page and markdown
# generators (kt uses neither) and blackfriday with them: their package
# initialisation cost every kt process, kt run included, 0.5 MiB of RSS.
TAGS    := urfave_cli_no_docs
# NOBGP=1 builds kt without GoBGP (tag nobgp): a bgp block is refused, and
# every kt process maps about 14 MB less (doc/benchmarks.md, "GoBGP's cost").
NOBGP ?=
ifneq ($(NOBGP),)
TAGS    += nobgp
endif
# The binary's default GODEBUG: the go command's own (for the go version in
# go.mod; empty today) plus two runtime settings for a small daemon:
# - disablethp=1, no transparent huge pages for the Go heap. Where THP is
#   "always" (Debian's kernels), each 2 MiB of heap the runtime touched
#   became a huge page: kt run with one VRRP instance held 4 MiB of
#   AnonHugePages, 15.7 MiB RSS against 12.9 MiB without (IPVS test VM).
# - adaptivestackstart=0: new goroutines start with the minimum stack
#   rather than the average in use, which start-up (the configuration's
#   parse) makes large; with checks started on demand, goroutine stacks held
#   1.2-1.3 MB instead of 1.8-2.5 MB (50 VRRP instances, 400 TCP checks).
# These cannot be set by //go:debug lines (the go command accepts only its
# compatibility settings there), so they go where the go command puts
# those, runtime.godebugDefault. The GODEBUG variable still overrides them.
comma := ,
GODEBUG_DEFAULT = $(shell $(GO) list -f '{{.DefaultGODEBUG}}' . 2>/dev/null)
RUNTIME_LDFLAGS = -X runtime.godebugDefault=$(if $(GODEBUG_DEFAULT),$(GODEBUG_DEFAULT)$(comma))disablethp=1$(comma)adaptivestackstart=0

# CI=true turns "skip: prerequisite missing" into failures in the tests that
# check for keepalived and friends; export it so `make test CI=true` works too.
CI ?=
export CI
# Extra flags for go test, e.g. make test TESTFLAGS='-run Parse -v'.
TESTFLAGS ?=
# How long each fuzz target runs under `make fuzz`.
FUZZTIME ?= 30s
# Extra flags for the Go benchmarks, e.g. BENCHFLAGS='-count 5'.
BENCHFLAGS ?=

DESTDIR ?=
PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
# Where the systemd unit goes (under DESTDIR too).
UNITDIR ?= /lib/systemd/system

# The programs kt answers to when called by their name (kt --list-applets).
APPLETS ?= keepalived genhash ipvsadm ipvsadm-restore ipvsadm-save
# install-links replaces a real program of the same name only with FORCE=1.
FORCE ?=

.PHONY: build test bench fuzz lint clean install install-links help soak

## build: static ./kt (CGO_ENABLED=0) with version and commit
build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags "$(TAGS)" -ldflags "$(LDFLAGS) $(RUNTIME_LDFLAGS)" -o $(BINARY) .

## test: go vet, then every test with the race detector (CI=true: no skips for missing tools)
test:
	@echo "test: CI=$(if $(CI),$(CI),unset), $$($(GO) version)"
	$(GO) vet ./...
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 19m $(TESTFLAGS) ./...

## bench: Go benchmarks, then every bench/*.sh (kt against keepalived and friends)
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(BENCHFLAGS) ./...
	@shopt -s nullglob; \
	for s in bench/*.sh; do \
		[ "$$s" = bench/soak.sh ] && continue; \
		echo "==> $$s"; \
		bash "$$s"; \
	done

## soak: the namespace failover tests N times (default 100) with every core busy; failures and flaps (bench/soak.sh)
soak:
	N=$(if $(N),$(N),100) bash bench/soak.sh

## fuzz: every Fuzz* target in every package for FUZZTIME (default 30s) each
fuzz:
	@targets=$$($(GO) test -list '^Fuzz' ./... | \
		awk '/^Fuzz/ { names = names " " $$1; next } \
		     /^ok / { if (names != "") print $$2 names; names = "" }'); \
	if [ -z "$$targets" ]; then echo "fuzz: no Fuzz targets found"; exit 0; fi; \
	while read -r pkg names; do \
		for name in $$names; do \
			echo "==> $$pkg $$name ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
		done; \
	done <<< "$$targets"

## lint: gofmt -l prints nothing, go vet, staticcheck when installed
lint:
	@files=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -not -path './vendor/*'); \
	bad=$$([ -z "$$files" ] || $(GOFMT) -l $$files); \
	if [ -n "$$bad" ]; then echo "gofmt: these files need gofmt -w:"; echo "$$bad"; exit 1; fi
	$(GO) vet ./...
	@sc=$$(command -v staticcheck || true); \
	[ -n "$$sc" ] || { gp=$$($(GO) env GOPATH); [ -x "$$gp/bin/staticcheck" ] && sc="$$gp/bin/staticcheck" || true; }; \
	if [ -n "$$sc" ]; then echo "$$sc ./..."; "$$sc" ./...; \
	else echo "lint: staticcheck not installed, skipped (go install honnef.co/go/tools/cmd/staticcheck@latest)"; fi

## clean: remove the binary
clean:
	rm -f $(BINARY)

## install: build, then install ./kt as $(DESTDIR)$(SBINDIR)/kt (/usr/local/sbin/kt) and contrib/kt.service in $(DESTDIR)$(UNITDIR)
install: build
	install -D -m 0755 $(BINARY) $(DESTDIR)$(SBINDIR)/$(BINARY)
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/sbin/kt|$(SBINDIR)/$(BINARY)|' contrib/kt.service > $(DESTDIR)$(UNITDIR)/kt.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/kt.service
	@echo "installed $(DESTDIR)$(SBINDIR)/$(BINARY) and $(DESTDIR)$(UNITDIR)/kt.service (systemctl daemon-reload; systemctl enable --now kt)"

## install-links: after install, link $(SBINDIR)/keepalived, genhash, ipvsadm, ipvsadm-restore and ipvsadm-save (APPLETS) to kt; an existing program is kept unless FORCE=1
install-links:
	@install -d -m 0755 $(DESTDIR)$(SBINDIR); \
	for a in $(APPLETS); do \
		l=$(DESTDIR)$(SBINDIR)/$$a; \
		if [ -e "$$l" ] && [ "$$(readlink "$$l")" != "$(BINARY)" ] && [ -z "$(FORCE)" ]; then \
			echo "install-links: $$l exists and is not kt: left alone (FORCE=1 replaces it)"; continue; \
		fi; \
		ln -sfn $(BINARY) "$$l" && echo "linked $$l -> $(BINARY)"; \
	done

## help: this list
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)
