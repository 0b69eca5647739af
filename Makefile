# `make test` is the whole check CI runs: it installs what the tests need, then vet, staticcheck,
# the race-enabled test suite, a macOS build, a short run of every fuzz target, and the load-test and
# benchmark modules' own checks (their scenarios at smoke size).
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 10s
export WSD_REQUIRE_PYTHON = 1
export WSD_REQUIRE_CHROMIUM = 1

.PHONY: test deps vet staticcheck unit darwin fuzz modules bench loadtest compare

test: deps vet staticcheck unit darwin fuzz modules

deps:
	./scripts/install-test-deps.sh
	$(GO) mod download

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || \
		{ echo "gofmt needed:"; gofmt -l .; exit 1; }

staticcheck:
	$(GO) run $(STATICCHECK) ./...

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

darwin:
	GOOS=darwin $(GO) build ./...

# Each fuzz target for FUZZTIME, its input split at fuzzer-chosen points.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./frame/
	$(GO) test -run '^$$' -fuzz '^FuzzDecompress$$' -fuzztime $(FUZZTIME) ./frame/deflate/
	$(GO) test -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime $(FUZZTIME) ./engine/internal/http1/
	$(GO) test -run '^$$' -fuzz '^FuzzUpgradeStream$$' -fuzztime $(FUZZTIME) ./engine/
	$(GO) test -run '^$$' -fuzz '^FuzzJSONType$$' -fuzztime $(FUZZTIME) ./dispatch/
	$(GO) test -run '^$$' -fuzz '^FuzzMsgPackType$$' -fuzztime $(FUZZTIME) ./dispatch/
	$(GO) test -run '^$$' -fuzz '^FuzzEscape$$' -fuzztime $(FUZZTIME) ./rooms/natsbroker/

# The nested modules (loadtest/, bench/) are not part of ./...: vet, smoke-test and macOS-build them.
modules:
	cd loadtest && $(GO) vet ./... && $(GO) test -count=1 ./... && GOOS=darwin $(GO) build ./...
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./... && GOOS=darwin $(GO) build ./...

# Micro-benchmarks of the engine packages.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./frame/... ./dispatch/ ./rooms/ ./engine/...

# The load-test scenarios at their default sizes (minutes), and the same-run comparison with peers.
loadtest:
	cd loadtest && $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m
compare:
	cd bench && $(GO) test -run '^$$' -bench Compare -benchtime 1x -timeout 60m
