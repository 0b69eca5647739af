# `make test` is the whole check CI runs: it installs what the tests need, then vet, staticcheck,
# the race-enabled test suite, a macOS build and a short run of every fuzz target.
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 10s
export WSD_REQUIRE_PYTHON = 1
export WSD_REQUIRE_CHROMIUM = 1

.PHONY: test deps vet staticcheck unit darwin fuzz bench

test: deps vet staticcheck unit darwin fuzz

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

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./frame/ ./engine/...
