# Strata's two everyday commands are `make test` and `make bench`.
GO ?= go

.PHONY: test bench fuzz

# Vet, the whole suite with the race detector, and bounded fuzzing.
test:
	./scripts/test.sh

# Benchmarks; compare runs with benchstat (see BENCHMARKS.md).
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=$${COUNT:-6} ./... | tee bench.txt

# Longer fuzzing: make fuzz FUZZTIME=5m
fuzz:
	FUZZTIME=$${FUZZTIME:-1m} ./scripts/fuzz.sh
