# Strata's two everyday commands are `make test` and `make bench`.
GO ?= go

.PHONY: test bench fuzz

# Vet, the whole suite with the race detector, and bounded fuzzing.
test:
	./scripts/test.sh

# Benchmarks; compare runs with benchstat (see BENCHMARKS.md).
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=$${COUNT:-6} ./... | tee bench.txt

# Longer fuzzing: make fuzz FUZZTIME=20000000x (a count of executions; see scripts/fuzz.sh)
fuzz:
	FUZZTIME=$${FUZZTIME:-2000000x} ./scripts/fuzz.sh
