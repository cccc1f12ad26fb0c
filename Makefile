# The two commands a new user needs are `make run` and `make test` (see README.md).
GO ?= go
GOTEST_FLAGS ?= -count=1 -timeout 25m

.PHONY: run test test-faults stack build screenshots fmt fuzz lint mutate

## run: start the local stack and the whole platform (api on :3002, scheduler, workers, notifier)
run: build stack
	scripts/run-local

## test: start the local stack and run every test
test: stack
	scripts/stack test-deps
	$(GO) vet ./...
	$(GO) test $(GOTEST_FLAGS) ./...

## test-faults: only the fault-injection suite (docs/reliability.md), printing its MEASURE lines;
## VIGIL_FAULTS_FULL=1 runs the long versions (a 60 s InfluxDB outage, workers away for 2 min)
test-faults: stack
	$(GO) test -count=1 -timeout 20m -v -run '^(TestFault|TestAdversarial)' ./e2e/

## screenshots: refresh docs/screenshots from the browser tests
screenshots: stack
	VIGIL_SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run Browser ./pkg/web/

## stack: make PostgreSQL, Redis and InfluxDB available on 127.0.0.1
stack:
	scripts/stack up

## build: build the four binaries (and the local mail sink) into bin/
build:
	$(GO) build -o bin/ ./cmd/... ./tools/mailsink

## fuzz: run each fuzz target for FUZZTIME (default 10s) on the committed corpora
FUZZTIME ?= 10s
FUZZ_TARGETS = \
	./pkg/probe:FuzzCheckURL ./pkg/probe:FuzzCheckHeaders \
	./pkg/monitor:FuzzParseExpectedStatus ./pkg/httpapi:FuzzRequestBodies \
	./pkg/queue:FuzzStreamJob ./pkg/queue:FuzzTransitionEvent
fuzz: stack
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

## mutate: mutation testing (gremlins, pinned) of pkg/monitor and pkg/probe, one package after
## the other; fails when a package's efficacy (killed / (killed + lived)) is below MUTATE_EFFICACY.
## A mutant's tests may run for the coefficient times the package's own test time: monitor's
## tests take a fraction of a second, so its coefficient covers the compile of each mutant.
## gremlins v0.6.0 ignores its own --threshold-efficacy flag (the value reaches it as a string),
## so the efficacy is read from its report here.
GREMLINS_VERSION = v0.6.0
GREMLINS = $(CURDIR)/.stack/tools/gremlins-$(GREMLINS_VERSION)/gremlins
MUTATE_PKGS ?= ./pkg/monitor:30 ./pkg/probe:5
MUTATE_EFFICACY ?= 90
MUTATE_WORKERS ?= 2
mutate:
	@test -x $(GREMLINS) || GOBIN=$(dir $(GREMLINS)) $(GO) install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION)
	@fail=0; for t in $(MUTATE_PKGS); do \
		pkg=$${t%%:*}; coef=$${t##*:}; log=.stack/mutate-$$(basename $$pkg).txt; \
		echo "mutate $$pkg"; \
		GOFLAGS=-count=1 $(GREMLINS) unleash --workers $(MUTATE_WORKERS) --timeout-coefficient $$coef \
			--output-statuses ltv $$pkg 2>&1 | tee $$log; \
		eff=$$(sed -n 's/^Test efficacy: \([0-9.]*\)%$$/\1/p' $$log); \
		if awk -v e="$$eff" -v min=$(MUTATE_EFFICACY) 'BEGIN { exit !(e != "" && e + 0 >= min) }'; then \
			echo "mutate $$pkg: efficacy $$eff% (at least $(MUTATE_EFFICACY)%)"; \
		else \
			echo "mutate $$pkg: efficacy $${eff:-unknown}% is below $(MUTATE_EFFICACY)%"; fail=1; \
		fi; \
	done; exit $$fail

fmt:
	gofmt -w $$(git ls-files '*.go')

## lint: golangci-lint (.golangci.yml) over ./...; installs the pinned version with go install
## when $(go env GOPATH)/bin has none or another one
GOLANGCI_LINT_VERSION = 2.15.0
GOLANGCI_LINT = $(shell $(GO) env GOPATH)/bin/golangci-lint
lint:
	@$(GOLANGCI_LINT) version 2>/dev/null | grep -q 'has version $(GOLANGCI_LINT_VERSION) ' || \
		$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v$(GOLANGCI_LINT_VERSION)
	$(GOLANGCI_LINT) run ./...

.PHONY: bench bench-smoke

## bench: issue 8's benchmarks on the local stack, written to docs/benchmarks.md (about 10 minutes)
bench: stack
	$(GO) build -o bin/ ./cmd/worker ./cmd/scheduler ./cmd/api ./cmd/notifier ./cmd/vigil-bench
	bin/vigil-bench -bin bin -out docs/benchmarks.md

## bench-smoke: the benchmark harness at a tiny size, in seconds; CI runs the same as cmd/vigil-bench's test
bench-smoke: stack
	$(GO) build -o bin/ ./cmd/worker ./cmd/scheduler ./cmd/api ./cmd/notifier ./cmd/vigil-bench
	bin/vigil-bench -smoke -bin bin -out .stack/benchmarks-smoke.md
