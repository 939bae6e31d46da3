#!/usr/bin/env python3
"""Samplers and pruners on a real task: every sampler at the same trial budget over several seeds,
then pruning vs no pruning (epochs spent and the best validation value).

--task diabetes (default): `ember tune csv` on scikit-learn's diabetes regression (val RMSE in the
target's units). --task fmnist: `ember tune fmnist` on a subset (--train-limit training images,
--val-size validation images; val accuracy).

  python3 bench/hpo/tune_compare.py --ember build/bin/ember [--seeds 5] [--trials 30] [--epochs 30]
  python3 bench/hpo/tune_compare.py --task fmnist --only pruning --seeds 1 --trials 12 --epochs 9 \
      --train-limit 5000 --val-size 2000
"""
import argparse, gzip, json, os, statistics, subprocess, tempfile, time

SK = "/usr/lib/python3/dist-packages/sklearn/datasets/data/"


def diabetes_csv(path):
    x = gzip.open(SK + "diabetes_data_raw.csv.gz", "rt").read().split("\n")
    y = gzip.open(SK + "diabetes_target.csv.gz", "rt").read().split("\n")
    rows = [",".join(a.split() + [str(float(b))]) for a, b in zip(x, y) if a.strip()]
    open(path, "w").write("\n".join(rows) + "\n")


def run(a, csv, out, sampler, pruner, seed, trials, epochs):
    if a.task == "fmnist":
        cmd = [a.ember, "tune", "fmnist", "--train-limit", str(a.train_limit), "--val-size", str(a.val_size)]
    else:
        cmd = [a.ember, "tune", "csv", "--file", csv, "--no-header", "--target", "c10", "--task", "regression"]
    cmd += ["--sampler", sampler, "--pruner", pruner, "--seed", str(seed), "--trials", str(trials),
            "--epochs", str(epochs), "--threads", str(a.threads), "--quiet", "--no-final", "--out", out]
    t0 = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    j = json.load(open(os.path.join(out, "summary.json")))
    return j["best_value"], j["epochs"], time.time() - t0


def q(v):
    v = sorted(v)
    return statistics.median(v), v[len(v) // 4], v[(3 * len(v)) // 4]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", default="build/bin/ember")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--only", choices=["samplers", "pruning"], default=None)
    ap.add_argument("--task", choices=["diabetes", "fmnist"], default="diabetes")
    ap.add_argument("--train-limit", type=int, default=5000)
    ap.add_argument("--val-size", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    a.metric = "val accuracy" if a.task == "fmnist" else "val RMSE"
    a.fmt = "{:.4f}" if a.task == "fmnist" else "{:.2f}"
    tmp = tempfile.mkdtemp(prefix="ember_tune_compare_")
    csv = os.path.join(tmp, "diabetes.csv")
    diabetes_csv(csv)
    if a.only != "pruning":
        samplers(a, tmp, csv)
    if a.only != "samplers":
        pruning(a, tmp, csv)


def samplers(a, tmp, csv):
    print(f"## Samplers on {a.task} ({a.metric}, {a.trials} trials of {a.epochs} epochs, no pruning, "
          f"median [q25, q75] over {a.seeds} seeds)\n")
    print(f"| sampler | best {a.metric} | s/run |\n|---|---|---|")
    for s in ["random", "tpe", "gp", "cfo", "blend"]:
        vals, secs = [], []
        for seed in range(a.seeds):
            v, _, t = run(a, csv, os.path.join(tmp, "o"), s, "none", seed, a.trials, a.epochs)
            vals.append(v), secs.append(t)
        m, lo, hi = (a.fmt.format(x) for x in q(vals))
        print(f"| {s} | {m} [{lo}, {hi}] | {statistics.median(secs):.1f} |", flush=True)


def pruning(a, tmp, csv):
    trials = a.trials * 2
    print(f"\n## Pruning on {a.task} (random sampler, {trials} trials of up to {a.epochs} epochs, "
          f"median [q25, q75] over {a.seeds} seeds)\n")
    print(f"| pruner | epochs spent | best {a.metric} | s/run |\n|---|---|---|---|")
    for p in ["none", "median", "asha", "hyperband", "curve"]:
        vals, eps, secs = [], [], []
        for seed in range(a.seeds):
            v, e, t = run(a, csv, os.path.join(tmp, "o"), "random", p, seed, trials, a.epochs)
            vals.append(v), eps.append(e), secs.append(t)
        m, lo, hi = (a.fmt.format(x) for x in q(vals))
        print(f"| {p} | {statistics.median(eps):.0f} | {m} [{lo}, {hi}] | {statistics.median(secs):.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
