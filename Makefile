# The two commands a newcomer needs on a fresh machine:
#
#   make tour   runs examples/tour against a throwaway Redis server
#   make test   runs every test against real Redis servers
#
# Both install redis-server from the distribution's packages when it is
# missing: the test servers run it as a process, or inside a locally built
# Docker image when a Docker engine answers.

GO ?= go

.PHONY: tour test redis-server fuzz

tour: redis-server
	$(GO) run ./examples/tour

# The OpenTelemetry adapter is a module of its own (so that the root needs
# nothing beyond the standard library): ./... does not reach it. The race
# detector changes allocation counts, so the tests that count them skip
# under it and run again without it; it also takes socket/ off its raw
# system calls, so socket/ runs again without it too. Vetting for other
# platforms catches a file whose build constraints leave one out.
test: redis-server
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOARCH=386 $(GO) vet ./...
	$(GO) test -race -count=1 -timeout 25m ./...
	$(GO) test -count=1 -run 'Allocations$$' .
	$(GO) test -count=1 ./socket
	cd justredisotel && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 10m ./...

# Fuzz each reader of untrusted input for FUZZTIME (default 1m) each.
FUZZTIME ?= 1m
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRESPScanner$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzRESPDecode$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzParseURL$$' -fuzztime $(FUZZTIME) .

redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
		echo "redis-server is missing: installing it with apt-get"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q redis-server; \
	}
