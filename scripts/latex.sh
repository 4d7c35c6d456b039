#!/usr/bin/env bash
# Compile DIR/report.tex into OUTDIR/report.pdf, stopping at the first LaTeX error.
# Uses latexmk when present, else pdflatex three times (longtable needs the extra passes).
# On failure prints the end of the log and exits non-zero.
set -euo pipefail
dir=${1:?usage: latex.sh DIR OUTDIR}
out=${2:?usage: latex.sh DIR OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$dir"
fail() { echo "latex: $dir/report.tex does not compile; end of $out/report.log:" >&2; tail -n 30 "$out/report.log" >&2; exit 1; }
if command -v latexmk >/dev/null 2>&1; then
  latexmk -pdf -quiet -interaction=nonstopmode -halt-on-error -outdir="$out" report.tex >/dev/null || fail
else
  command -v pdflatex >/dev/null 2>&1 || { echo "latex: neither latexmk nor pdflatex found (apt-get install texlive-latex-recommended)" >&2; exit 2; }
  for _ in 1 2 3; do
    pdflatex -interaction=nonstopmode -halt-on-error -output-directory="$out" report.tex >/dev/null || fail
  done
fi
