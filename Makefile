# Strata's everyday commands are `make test` and `make bench`; `make load`
# and `make faults` measure and break the chat.
GO ?= go

.PHONY: test bench fuzz load faults

# Vet, the whole suite with the race detector, and bounded fuzzing.
test:
	./scripts/test.sh

# Benchmarks; compare runs with benchstat (see BENCHMARKS.md).
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=$${COUNT:-6} ./... | tee bench.txt

# Longer fuzzing: make fuzz FUZZTIME=20000000x (a count of executions; see scripts/fuzz.sh)
fuzz:
	FUZZTIME=$${FUZZTIME:-2000000x} ./scripts/fuzz.sh

# The chat under load, over every store configuration (scripts/load.sh;
# the tables go to load.md, and BENCHMARKS.md says what they showed).
load:
	./scripts/load.sh

# The chat under faults: the long fault tests, on throwaway servers.
faults:
	STRATA_FAULTS=long ./scripts/servers.sh $(GO) test -race -count=1 -v -timeout 30m ./app/faults
