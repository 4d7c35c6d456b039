# gncond: one command per job. `make` reproduces the paper's figures (default profile),
# `make test` is what CI runs. Both share one build (the dev profile, optimised; see Cargo.toml).

CARGO ?= cargo
BIN   := target/debug/gncond
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build run report verify quick golden test clean bench pdf latex-check data paper paper-report

## make: run the default profile, render the report, verify every claim
all: run report verify

build:
	$(CARGO) build --locked

## the default profile's results: figures/, figures/data/, figures/manifest.json
run: build
	$(BIN) run --profile default --jobs $(JOBS)

## the official MNIST and CIFAR-10 into .gncond-data/ (or $GNCOND_DATA_DIR), checksums
## verified; `make` then uses them (first n training images, as the authors did)
data: build
	$(BIN) data fetch all
	$(BIN) data info

## report/report.md from the results in figures/
report: build
	$(BIN) report

## report/report.pdf from report/report.tex with latexmk, or pdflatex run three times (the
## claims tables are longtables, which settle their column widths over several passes);
## auxiliary files go to out/latex
pdf: report
	scripts/latex.sh report out/latex
	cp out/latex/report.pdf report/report.pdf
	@echo "wrote report/report.pdf"

## every guaranteed bound and paper claim, PASS/FAIL with evidence; fails only on a violated
## theorem (claims of the paper that our results do not reproduce are printed and reported)
verify: build
	$(BIN) verify --fail-on guaranteed

## the paper's own sizes (the paper profile) into out/paper, never the committed figures/:
## prints the estimate per experiment and in total first; all cores; the point cache is on,
## so an interrupted run (Ctrl-C, a lost session) resumes where it stopped with `make paper`
PAPER_OUT ?= out/paper
paper: build
	@echo "make paper: the paper profile, estimated cost per experiment on this machine:"
	@$(BIN) list --profile paper
	@echo "make paper: outputs go to $(PAPER_OUT)/figures and $(PAPER_OUT)/report (make paper-report);"
	@echo "make paper: finished points are kept in .gncond-cache, so running make paper again resumes"
	$(BIN) run --profile paper --jobs $(JOBS) --out $(PAPER_OUT)

## the report and claim checks of the paper profile's results in out/paper
paper-report: build
	$(BIN) report --out $(PAPER_OUT)
	$(BIN) verify --out $(PAPER_OUT) --fail-on guaranteed

## the quick profile into out/quick (scratch: never touches figures/ or tests/golden/)
quick: build
	$(BIN) run --profile quick --jobs $(JOBS) --out out/quick
	$(BIN) report --out out/quick
	$(BIN) verify --out out/quick --fail-on guaranteed

## regenerate the quick profile's committed references (deliberately; review the diff)
golden: build
	rm -rf tests/golden/figures
	$(BIN) run --profile quick --jobs $(JOBS) --out tests/golden --no-cache
	$(BIN) verify --out tests/golden --fail-on guaranteed

## what CI runs: format, lints, unit and integration tests, then the quick profile compared
## with tests/golden (numbers to 1e-9 relative, SVG byte for byte; on a difference the
## side-by-side pictures and changed cells are in out/check-diff/index.html)
test:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) test --locked
	$(CARGO) build --locked
	$(BIN) check --golden tests/golden --jobs $(JOBS) --diff-dir out/check-diff
	$(BIN) verify --out tests/golden --fail-on guaranteed
	$(MAKE) --no-print-directory latex-check

## the LaTeX report of the quick references must compile without errors wherever pdflatex
## exists (.ci/run installs it); elsewhere this says that it skipped
latex-check: build
	@if command -v pdflatex >/dev/null 2>&1; then \
	  $(BIN) report --out tests/golden && \
	  scripts/latex.sh tests/golden/report out/latex-check && \
	  echo "latex-check: tests/golden/report/report.tex compiles ($$(pdfinfo out/latex-check/report.pdf 2>/dev/null | grep Pages || echo 'PDF written'))"; \
	else echo "latex-check: pdflatex not found; LaTeX compile check SKIPPED"; fi

clean:
	rm -rf out .gncond-cache

## criterion benchmarks (ratios against baselines in the same run), on the shared dev build
bench:
	$(CARGO) bench --profile dev --bench spectrum
