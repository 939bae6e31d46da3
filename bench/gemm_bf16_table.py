#!/usr/bin/env python3
"""Ratio table for bench_gemm_bf16: reads --benchmark_format=json (file or stdin) and prints, per
shape, GFLOP/s of ours in bf16 and f32, OpenBLAS sgemm (and sbgemm when the build has it), the
ratios of ours-bf16 to each, and ours-bf16 as a fraction of the VDPBF16PS peak (BM_bf16_peak).
With --benchmark_repetitions=N every figure is the median of the N runs (ratios of medians)."""
import json
import statistics
import sys


def main():
    data = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
    peaks, rows = {}, {}
    for b in data["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        name = b["name"].split("/")[0]
        if name.endswith("_peak"):
            peaks.setdefault(name, []).append(b["FLOPS"] / 1e9)
            continue
        args = dict(p.split(":") for p in b["name"].split("/")[1:] if ":" in p and not p.startswith("min_time"))
        key = (args["M"], args["N"], args["K"], b.get("label", ""))
        rows.setdefault(key, {}).setdefault(name.replace("BM_", ""), []).append(b["FLOPS"] / 1e9)
    peaks = {k: statistics.median(v) for k, v in peaks.items()}
    rows = {key: {c: statistics.median(v) for c, v in r.items()} for key, r in rows.items()}
    bf16_peak = peaks.get("BM_bf16_peak")
    print("peaks (1 thread): " + ", ".join(f"{k[3:]} {v:.0f} GFLOP/s" for k, v in peaks.items()))
    cols = ["ember_bf16", "ember_f32", "openblas_sgemm", "openblas_sbgemm"]
    have = [c for c in cols if any(c in r for r in rows.values())]
    print(f"{'M':>5} {'N':>5} {'K':>5} {'op':>3} " + " ".join(f"{c:>15}" for c in have)
          + " " + " ".join(f"{'bf16/' + c.replace('openblas_', ''):>14}" for c in have[1:]) + f" {'%peak':>6}")
    for key, r in rows.items():
        ours = r.get("ember_bf16")
        line = f"{key[0]:>5} {key[1]:>5} {key[2]:>5} {key[3]:>3} " + " ".join(f"{r.get(c, 0):15.1f}" for c in have)
        line += " " + " ".join(f"{ours / r[c]:14.2f}" if ours and r.get(c) else f"{'-':>14}" for c in have[1:])
        line += f" {100 * ours / bf16_peak:5.0f}%" if ours and bf16_peak else "      -"
        print(line)


if __name__ == "__main__":
    main()
