# webchat — make run starts a node on a fresh machine; make test proves it.
GO ?= go

.PHONY: run test deps vet lint build cluster fuzz bench bench-design

run:
	$(GO) run ./cmd/webchat

build:
	$(GO) build -o webchat ./cmd/webchat

# bench: Go benchmarks, then webchat and Nchan side by side on one Redis;
# rewrites the generated part of docs/benchmarks.md (10 to 20 minutes: the 1,000-user
# ladder runs up to its knee, which moves with the machine's speed).
bench: deps
	@./scripts/bench.sh

# bench-design: POLL_WAIT=blmove against subscribe (idle at 1k/5k/10k/max, the direct
# ladder at 1k and 5k users); about 11 minutes; writes loadtest/results/design/design.md.
bench-design: deps
	@d=$$(mktemp -d) && $(GO) build -o $$d/webchat ./cmd/webchat && $(GO) build -o $$d/loadtest ./loadtest && \
		$(GO) build -o $$d/benchrun ./loadtest/cmd/benchrun && \
		$$d/benchrun design -webchat $$d/webchat -loadtest $$d/loadtest -results loadtest/results/design -direct 1000,5000; \
		rc=$$?; rm -rf $$d; exit $$rc

# cluster: three nodes behind nginx with one Redis, on loopback (Ctrl-C stops).
cluster:
	@./scripts/cluster.sh

# deps installs from Debian's packages what the tests start: redis-server, nginx,
# postgresql, chromium, node (scripts/deps.sh).
deps:
	@./scripts/deps.sh

vet:
	$(GO) vet ./... ./loadtest/...

test: deps lint
	$(GO) test -race -count=1 -timeout 20m ./... ./loadtest/...
	# k6 cannot be installed here: check the k6 scripts' syntax (ES modules).
	cd loadtest/k6 && for f in *.js; do node --check "$$f" || exit 1; done
	# The chat core's delivery tests again, unchanged, on a three-master Redis Cluster.
	# (Tests that start a redis-server of their own ran above already.)
	WEBCHAT_TEST_REDIS=cluster $(GO) test -race -count=1 -timeout 10m \
		-skip 'TestSQLiteLocked|TestPostgresGone|TestThousandsOfCancelledPolls|TestRedisRestartUnderLoad|TestSlowRedis|TestRedisGone|TestSendReadsItsSessionOnceWhenRedisIsGone|TestSendingAndPollingSurviveARedisRestart' ./gateway/
	# The gateway suite again with polls waiting in Redis (POLL_WAIT=blmove)
	# rather than on each node's wake-up subscription (the default).
	WEBCHAT_TEST_POLL_WAIT=blmove $(GO) test -race -count=1 -timeout 10m ./gateway/
	# Each fuzz target for a few seconds (make fuzz runs them longer). A count
	# (Nx), not a duration: a duration races Go 1.26's fuzz coordinator at its
	# deadline and can fail with a bare "context deadline exceeded" and no
	# failing input (golang/go#75804, fixed in Go 1.27).
	$(MAKE) --no-print-directory fuzz FUZZTIME=20000x

FUZZTIME ?= 2m
FUZZ_TARGETS = FuzzDecode FuzzParseCursor FuzzParseConv

fuzz:
	@for f in $(FUZZ_TARGETS); do \
		echo "fuzz $$f for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) ./gateway/ || exit 1; \
	done

# lint: gofmt, go vet and staticcheck (pinned, so a new release cannot break CI).
lint: vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./... ./loadtest/...
