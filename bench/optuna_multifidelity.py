#!/usr/bin/env python3
"""Optuna peer of bench/multifidelity_bench.cc: TPE + HyperbandPruner / SuccessiveHalvingPruner (and, to compare
the pruners alone, RandomSampler + HyperbandPruner) on the same synthetic learning-curve problems and seeds,
written as JSON for the C++ driver to tabulate.

usage: optuna_multifidelity.py --out FILE [--problems a,b] [--seeds N] [--budget-trials K]
                                 [--methods tpe+hyperband,tpe+sha,random+hyperband]
       optuna_multifidelity.py --check      (prints the problems' values at fixed points, one per line)

The problems below must stay identical to problems() in multifidelity_bench.cc (the C++ driver compares the
--check output with its own values before it uses any figure from here). Each trial trains for up to
R = 81 epochs, reporting y(t) after epoch t; the pruner is asked after every epoch but the last (no rung at
R, as bbo's pruners). A trial costs the epochs it ran. After each finished trial we record (cumulative
epochs, regret), regret = f(x) of the best trial that reached R by its observed final value (f's minimum is
0). A run stops starting trials once it has spent budget_trials * R epochs.
"""
import argparse
import json
import math
import sys

R = 81
DIM = 4


def noise(x, t, sigma):
    u = math.sin(1.7 * x[0] + 3.1 * x[1] + 5.3 * x[2] + 7.9 * x[3] + 0.37 * t) * 43758.5453
    return sigma * (2.0 * (u - math.floor(u)) - 1.0)


def p_consistent(x):
    f = 0.5 * ((x[0] - 0.3) ** 2 + (x[1] - 0.6) ** 2 + (x[2] - 0.45) ** 2 + (x[3] - 0.7) ** 2)
    return f, 0.6, 0.8, 0.003


def p_crossing(x):
    f = (x[0] - 0.25) ** 2 + 0.5 * ((x[1] - 0.6) ** 2 + (x[2] - 0.45) ** 2 + (x[3] - 0.7) ** 2)
    return f, 1.5, 0.25 + 1.5 * x[0], 0.003


def p_slow_starters(x):
    f = 0.6 * (x[2] - 0.8) ** 2 + 0.4 * ((x[0] - 0.5) ** 2 + (x[1] - 0.3) ** 2) + 0.3 * (x[3] - 0.2) ** 2
    return f, 0.3 + 1.2 * x[2], 0.6, 0.002 + 0.01 * x[3]


PROBLEMS = {"consistent": p_consistent, "crossing": p_crossing, "slow_starters": p_slow_starters}


def curve(problem, x, t):
    """y(t) = f + a * (t^-b - R^-b) + noise: converges to f(x) (plus noise) at t = R."""
    f, a, b, sigma = PROBLEMS[problem](x)
    return f + a * (t ** (-b) - R ** (-b)) + noise(x, t, sigma)


CHECK_POINTS = [
    [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.3, 0.6, 0.45, 0.7], [0.25, 0.5, 0.8, 0.2],
    [0.123, 0.456, 0.789, 0.321],
]
CHECK_STEPS = [1, 2, 3, 9, 27, 80, 81]


def check():
    for problem in sorted(PROBLEMS):
        for x in CHECK_POINTS:
            for t in CHECK_STEPS:
                print(f"{problem} {t} {curve(problem, x, t)!r} {PROBLEMS[problem](x)[0]!r}")


def run(problem, seed, sampler_name, pruner_name, budget_epochs):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if pruner_name == "hyperband":
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=R, reduction_factor=3)
    else:
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3,
                                                        min_early_stopping_rate=0)
    if sampler_name == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed)
    else:
        sampler = optuna.samplers.RandomSampler(seed=seed)
    study = optuna.create_study(study_name=f"mf-{problem}-{seed}", sampler=sampler, pruner=pruner)
    spent = 0
    best_y, best_f = math.inf, math.inf
    epochs, regret = [], []
    while spent < budget_epochs:
        trial = study.ask()
        x = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(DIM)]
        pruned = False
        y = math.nan
        for t in range(1, R + 1):
            y = curve(problem, x, t)
            trial.report(y, t)
            if t < R and trial.should_prune():
                pruned = True
                spent += t
                break
        if pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            spent += R
            study.tell(trial, y)
            if y < best_y:
                best_y, best_f = y, PROBLEMS[problem](x)[0]
        epochs.append(spent)
        regret.append(best_f)
    return epochs, regret


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--problems", default=",".join(sorted(PROBLEMS)))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget-trials", type=int, default=20)
    ap.add_argument("--methods", default="tpe+hyperband,tpe+sha,random+hyperband")
    args = ap.parse_args()
    if args.check:
        check()
        return 0
    if not args.out:
        ap.error("--out is required")
    runs = []
    for method in args.methods.split(","):
        sampler, pruner = method.split("+")
        for problem in args.problems.split(","):
            for seed in range(args.seeds):
                e, r = run(problem, seed, sampler, pruner, args.budget_trials * R)
                runs.append({"method": method, "problem": problem, "seed": seed, "epochs": e,
                             "regret": [v if math.isfinite(v) else None for v in r]})
    with open(args.out, "w") as f:
        json.dump({"optuna": __import__("optuna").__version__, "runs": runs}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
