#!/usr/bin/env python3
"""bench/run quality-rank: average rank of bbo's strategies on the quality benchmark.

Runs `bbo_bench_quality` once per strategy (same functions, variants, seeds, trials and checkpoints), keeps each
run's last-line JSON in <scratch>/quality_rank_<strategy>.json (reused with --reuse when the settings match),
then ranks the strategies' median regrets in every (function, variant, checkpoint) cell (1 = best, ties share
the mean rank) and prints the average rank per checkpoint and overall. The question it answers (issue 11): does
`auto` have the best average rank among bbo's strategies? The Optuna columns of each run are the usual peer
reference; the best Optuna sampler's median is listed as a row of its own for orientation (not ranked).
"""
import argparse
import json
import os
import subprocess
import sys

DEFAULT = "auto,gp,tpe,cmaes,cqr,de,cbo,sa,sobol,random"


def run_one(args, strategy, scratch, passthrough):
    out = os.path.join(scratch, f"quality_rank_{strategy}.json")
    settings = {"seeds": args.seeds, "trials": args.trials, "checkpoints": args.checkpoints, "funcs": args.funcs,
                "extra": passthrough}
    if args.reuse and os.path.exists(out):
        with open(out) as f:
            saved = json.load(f)
        if saved.get("settings") == settings:
            print(f"quality-rank: reusing {out}", file=sys.stderr)
            return saved["result"]
    cmd = [args.bin, "--dir", scratch, "--peers-dir", args.peers_dir, "--python", args.python, "--strategy", strategy,
           "--seeds", str(args.seeds), "--trials", str(args.trials), "--checkpoints", args.checkpoints,
           "--raw", os.path.join(scratch, f"quality_rank_raw_{strategy}.json")] + passthrough
    if args.funcs:
        cmd += ["--funcs", args.funcs]
    print(f"quality-rank: running {strategy} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(f"quality-rank: {strategy}: bbo_bench_quality exited with {proc.returncode}")
    lines = [l for l in proc.stdout.splitlines() if l.strip()]
    result = json.loads(lines[-1])
    with open(out, "w") as f:
        json.dump({"settings": settings, "result": result}, f)
    return result


def ranks(values):
    """1-based ranks of `values` (lower is better), ties sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    r = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--dir", dest="scratch", required=True)
    ap.add_argument("--peers-dir", required=True)
    ap.add_argument("--python", default="")
    ap.add_argument("--strategies", default=DEFAULT)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--checkpoints", default="50,100,200")
    ap.add_argument("--funcs", default="")
    ap.add_argument("--reuse", action="store_true", help="reuse a strategy's saved run when its settings match")
    ap.add_argument("--quick", action="store_true", help="3 seeds")
    args, passthrough = ap.parse_known_args()
    if args.quick:
        args.seeds = 3
    strategies = [s for s in args.strategies.split(",") if s]
    results = {s: run_one(args, s, args.scratch, passthrough) for s in strategies}

    cells = {}  # (func, shift, evals) -> {strategy: median regret}
    optuna = {}
    for s, res in results.items():
        for row in res["rows"]:
            key = (row["func"], row["shift"], row["evals"])
            cells.setdefault(key, {})[s] = row["bbo_median_regret"]
            if row.get("best_optuna_median_regret") is not None:
                optuna[key] = row["best_optuna_median_regret"]
    checkpoints = sorted({k[2] for k in cells})
    total = {s: [] for s in strategies}
    per_cp = {cp: {s: [] for s in strategies} for cp in checkpoints}
    wins = {s: 0 for s in strategies}
    for key, by in sorted(cells.items()):
        if len(by) != len(strategies):
            continue
        r = ranks([by[s] for s in strategies])
        for s, v in zip(strategies, r):
            total[s].append(v)
            per_cp[key[2]][s].append(v)
            if v == min(r):
                wins[s] += 1

    def avg(v):
        return sum(v) / len(v) if v else float("nan")

    header = f"{'strategy':<10}" + "".join(f"{'rank@' + str(cp):>10}" for cp in checkpoints) + f"{'overall':>10}{'best in':>9}"
    print(f"quality-rank: {len(strategies)} strategies, {args.seeds} seeds, {args.trials} trials; rank 1 = lowest median regret")
    print(header)
    order = sorted(strategies, key=lambda s: avg(total[s]))
    for s in order:
        print(f"{s:<10}" + "".join(f"{avg(per_cp[cp][s]):>10.2f}" for cp in checkpoints) + f"{avg(total[s]):>10.2f}{wins[s]:>9}")
    n_cells = len(total[strategies[0]])
    best = order[0]
    print(f"best average rank: {best} ({avg(total[best]):.2f} over {n_cells} cells)"
          + ("" if "auto" not in strategies else f"; auto {avg(total['auto']):.2f}"))
    print(json.dumps({"benchmark": "quality-rank", "seeds": args.seeds, "trials": args.trials,
                      "strategies": strategies, "cells": n_cells,
                      "average_rank": {s: avg(total[s]) for s in strategies},
                      "average_rank_by_evals": {str(cp): {s: avg(per_cp[cp][s]) for s in strategies} for cp in checkpoints},
                      "best_in_cells": wins, "best": best,
                      "median_regret": [{"func": k[0], "shift": k[1], "evals": k[2], **cells[k],
                                         "best_optuna": optuna.get(k)} for k in sorted(cells)]}))


if __name__ == "__main__":
    main()
