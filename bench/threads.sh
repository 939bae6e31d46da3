#!/usr/bin/env bash
# The thread pool on a shared machine: W1 and W2 (WORKLOADS.md) at 1 and 2 threads, with the
# machine as it is and with a process spinning on one core (bench_workloads --busy-loop), in one
# window, interleaved `rounds` times. 2 threads should never be slower than 1 thread.
# usage: bench/threads.sh [build dir (default build)] [rounds (default 2)] [workloads (default W1 W2)]
set -euo pipefail
bin="${1:-build}/bench/bench_workloads"
rounds="${2:-2}"
shift $(( $# > 2 ? 2 : $# )) || true
work=("${@:-W1}")
[[ $# -eq 0 ]] && work=(W1 W2)
[[ -x "$bin" ]] || { echo "threads.sh: $bin not found (ninja -C build bench_workloads)" >&2; exit 1; }
for r in $(seq "$rounds"); do
  for busy in "" --busy-loop; do
    for t in 1 2; do
      echo "== round $r, threads $t, ${busy:-idle}"
      "$bin" --threads "$t" $busy "${work[@]}" | grep -E "^W|thread pool"
    done
  done
done
