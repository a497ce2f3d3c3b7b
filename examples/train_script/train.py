#!/usr/bin/env python3
"""A real training script for `bbo run`: a one-hidden-layer MLP trained with SGD + momentum on a 3-class
spiral data set (generated deterministically below, so nothing needs downloading), epoch by epoch, in numpy
(Debian: python3-numpy).

It talks to bbo only through its stdout: after every epoch it prints
    bbo: {"step": <epoch>, "value": <validation loss>}
so bbo records the learning curve and can stop the run early (the study's pruner), and at the end
    bbo: {"value": <final validation loss>}
Every other line (the human-readable progress below) goes to the trial's log file.

    python3 train.py --lr 0.1 --hidden 64 --weight-decay 1e-4 --batch-size 32 --activation relu --epochs 27
"""
import argparse
import json
import math
import sys

import numpy as np


def spirals(n_per_class=500, classes=3, noise=0.35, seed=0):
    """Interleaved noisy spirals in 2-D: linearly inseparable, easy to overfit with a wide net."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.05, 1.0, n_per_class)
        t = np.linspace(c * 2 * math.pi / classes, c * 2 * math.pi / classes + 5.0, n_per_class)
        t = t + rng.normal(0.0, noise, n_per_class)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(n_per_class, c))
    x, y = np.concatenate(xs), np.concatenate(ys)
    order = rng.permutation(len(y))
    return x[order], y[order]


def report(**fields):
    # json.dumps writes NaN/Infinity for non-finite floats; bbo accepts both spellings.
    print("bbo: " + json.dumps(fields), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--activation", choices=["relu", "tanh"], default="relu")
    p.add_argument("--epochs", type=int, default=27)
    p.add_argument("--seed", type=int, default=0, help="weight initialization and shuffling")
    a = p.parse_args()

    x, y = spirals()
    n_train = 1100
    x_tr, y_tr, x_va, y_va = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    classes = int(y.max()) + 1

    rng = np.random.default_rng(a.seed)
    w1 = rng.normal(0, math.sqrt(2.0 / 2), (2, a.hidden))
    b1 = np.zeros(a.hidden)
    w2 = rng.normal(0, math.sqrt(1.0 / a.hidden), (a.hidden, classes))
    b2 = np.zeros(classes)
    params = [w1, b1, w2, b2]
    velocity = [np.zeros_like(q) for q in params]

    def act(z):
        return np.maximum(z, 0) if a.activation == "relu" else np.tanh(z)

    def act_grad(z, h):
        return (z > 0).astype(z.dtype) if a.activation == "relu" else 1 - h * h

    def forward(xb):
        z = xb @ w1 + b1
        h = act(z)
        logits = h @ w2 + b2
        logits = logits - logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        return z, h, prob

    def loss_and_accuracy(xs, ys):
        _, _, prob = forward(xs)
        loss = -np.mean(np.log(prob[np.arange(len(ys)), ys] + 1e-12))
        return float(loss), float(np.mean(prob.argmax(axis=1) == ys))

    val_loss = float("nan")
    for epoch in range(1, a.epochs + 1):
        order = rng.permutation(n_train)
        for start in range(0, n_train, a.batch_size):
            idx = order[start:start + a.batch_size]
            xb, yb = x_tr[idx], y_tr[idx]
            z, h, prob = forward(xb)
            d_logits = prob
            d_logits[np.arange(len(yb)), yb] -= 1
            d_logits /= len(yb)
            g_w2 = h.T @ d_logits + a.weight_decay * w2
            g_b2 = d_logits.sum(axis=0)
            d_z = (d_logits @ w2.T) * act_grad(z, h)
            g_w1 = xb.T @ d_z + a.weight_decay * w1
            g_b1 = d_z.sum(axis=0)
            for q, v, g in zip(params, velocity, [g_w1, g_b1, g_w2, g_b2]):
                v *= 0.9
                v -= a.lr * g
                q += v
        train_loss, train_acc = loss_and_accuracy(x_tr, y_tr)
        val_loss, val_acc = loss_and_accuracy(x_va, y_va)
        print(f"epoch {epoch:3d}  train_loss {train_loss:.4f}  train_acc {train_acc:.3f}  "
              f"val_loss {val_loss:.4f}  val_acc {val_acc:.3f}", flush=True)
        if not math.isfinite(val_loss):
            # A diverged run: exit non-zero, bbo records FAIL with the exit status (and this line in the log).
            print(f"diverged at epoch {epoch} (lr {a.lr})", file=sys.stderr)
            return 1
        report(step=epoch, value=val_loss)
    report(value=val_loss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
