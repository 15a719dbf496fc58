#!/usr/bin/env bash
# Redraws docs/benchmarks.png, wall time against fleet size for mcorun, stock mco and the
# raw floor on each broker, from mcobench's --tsv output:
#
#   go run ./cmd/mcobench --tsv docs/benchmarks.tsv   # add --slow for 10,000 nodes
#   docs/benchmarks.sh [docs/benchmarks.tsv [docs/benchmarks.png]]
#
# Needs gnuplot (Debian: apt-get install gnuplot-nox).
set -euo pipefail
cd "$(dirname "$0")/.."
in=${1:-docs/benchmarks.tsv}
out=${2:-docs/benchmarks.png}
command -v gnuplot >/dev/null || { echo "benchmarks.sh: gnuplot not found: apt-get install gnuplot-nox" >&2; exit 1; }
[ -s "$in" ] || { echo "benchmarks.sh: $in is empty or missing: run go run ./cmd/mcobench --tsv $in" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# One data file per broker and series: nodes, wall time in seconds.
plots=()
for broker in embedded rabbitmq; do
  for series in "floor:two-rounds:floor, two rounds:#7b2cbf" "mcorun:rpc ping:mcorun rpc ping:#1b7837" \
    "mco:rpc ping:stock mco rpc ping:#d7301f" "mcorun:find:mcorun find:#2166ac"; do
    IFS=: read -r tool op title color <<<"$series"
    f="$tmp/$broker-$tool-${op// /-}.dat"
    awk -F'\t' -v b="$broker" -v t="$tool" -v o="$op" 'NR > 1 && $1 == b && $4 == t && $5 == o {print $2, $6 / 1000}' "$in" | sort -n >"$f"
    [ -s "$f" ] || continue
    dash=1
    [ "$broker" = rabbitmq ] && dash=2
    plots+=("'$f' using 1:2 with linespoints dt $dash lw 2 lc rgb '$color' title '$title ($broker)'")
  done
done
[ ${#plots[@]} -gt 0 ] || { echo "benchmarks.sh: no rows in $in" >&2; exit 1; }
{
  echo "set terminal pngcairo size 900,560 noenhanced font 'sans,10'"
  echo "set output '$out'"
  echo "set title 'rpcutil ping to N simulated nodes on a 2-core machine: wall time (median run)'"
  echo "set xlabel 'nodes'"
  echo "set ylabel 'seconds'"
  echo "set logscale xy"
  echo "set grid"
  echo "set key outside right"
  printf 'plot %s\n' "$(IFS=,; echo "${plots[*]}")"
} >"$tmp/plot.gp"
gnuplot "$tmp/plot.gp"
echo "benchmarks.sh: wrote $out" >&2
