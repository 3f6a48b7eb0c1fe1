.PHONY: run test proof bench lint fmt

run:  ## set up and run web + worker + beat on the embedded default
	bash scripts/run.sh

test:  ## set up and run ruff, the migration check and the whole test suite
	bash scripts/test.sh

bench:  ## run every benchmark and print one table of figures
	bash scripts/bench.sh

proof:  ## the slow proofs (faults, load) and the benchmarks; ends with a table
	bash scripts/proof.sh

fmt:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
