#!/usr/bin/env python3
"""Ratio table for bench_gemm: reads --benchmark_format=json from a file (or stdin) and prints, per
shape and thread count, ours and OpenBLAS GFLOP/s, ours/OpenBLAS, and ours as a fraction of the
FMA peak (BM_fma_peak per thread times the thread count)."""
import json
import sys


def main():
    data = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
    peak, rows = None, {}
    for b in data["benchmarks"]:
        name = b["name"]
        if name.startswith("BM_fma_peak"):
            peak = b["FLOPS"] / 1e9
            continue
        who = "ours" if name.startswith("BM_ember") else "blas"
        args = dict(p.split(":") for p in name.split("/")[1:] if ":" in p and not p.startswith("min_time"))
        key = (int(args["T"]), args["M"], args["N"], args["K"], b.get("label", ""))
        rows.setdefault(key, {})[who] = b["FLOPS"] / 1e9
    print(f"FMA peak per thread: {peak:.1f} GFLOP/s" if peak else "FMA peak: not measured")
    print(f"{'T':>2} {'M':>5} {'N':>5} {'K':>5} {'op':>3} {'ours':>8} {'openblas':>9} {'ratio':>6} {'%peak':>6}")
    for key in sorted(rows, key=lambda k: (k[0], list(rows).index(k))):
        t, m, n, k, op = key
        ours, blas = rows[key].get("ours"), rows[key].get("blas")
        ratio = f"{ours / blas:6.2f}" if ours and blas else "     -"
        frac = f"{100 * ours / (peak * t):5.0f}%" if ours and peak else "     -"
        print(f"{t:>2} {m:>5} {n:>5} {k:>5} {op:>3} {ours or 0:8.1f} {blas or 0:9.1f} {ratio} {frac}")


if __name__ == "__main__":
    main()
