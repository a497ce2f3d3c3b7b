#!/usr/bin/python3
"""Trainer for the `pfn` surrogate (a prior-data fitted network, as in PFNs4BO).

Only this trainer needs Python (Debian's python3-torch and python3-numpy); bbo reads the weight file it writes
with the C++ code in surrogates/pfn/pfn_model.cc.

  /usr/bin/python3 surrogates/pfn/train/pfn_train.py train --out surrogates/pfn/weights --steps 4000
      trains from scratch (seeded), logs to <out>/training_log.txt, writes <out>/pfn_weights.bin every
      --checkpoint-every steps and at the end, together with <out>/pfn_fixture.json (fixture inputs and the
      trainer's outputs in float64, which tests/surrogates/pfn checks the C++ inference against).
  /usr/bin/python3 surrogates/pfn/train/pfn_train.py export --ckpt <out>/checkpoint.pt --out <out>
      rewrites the weight and fixture files from a checkpoint.

The prior (HEBO+-like, see docs/surrogates.md "## pfn"): d ~ U{1..8}; n + 30 points x ~ U[0,1]^d, optionally
Kumaraswamy-warped per dimension; y ~ GP(0, s * Matern52_ARD(l)) + N(0, noise); lengthscales l_j ~ Gamma(3, 6)
* sqrt(d), each dimension irrelevant (l = 1e4) with probability 0.2 (d > 1); s ~ LogNormal(0, 0.5); noise / s
~ LogUniform(1e-5, 0.3). The first n ~ U{0..60} points are the context, the rest are queries. y are
standardized by the context (mean, sample sd; n <= 1: centre on the one y, scale 1), exactly as the C++ plugin
does at fit time.

Architecture (must match pfn_model.cc): token = x-encoder(xs) [+ y-encoder(ys) for context], where xs is
(x - 0.5) * sqrt(8 / d) zero-padded to 8 features; a learned "prior" token is prepended to the context so that
n = 0 is defined; L pre-norm transformer layers in which context tokens attend to the context (prior token
included) and query tokens attend to the context only; final LayerNorm; decoder MLP (E -> H -> K, GELU) gives
the logits of a bar distribution over K buckets (borders = quantiles of standardized prior targets) whose
first and last buckets are half-normal tails.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DMAX = 8
NMAX = 60
NQUERY = 30  # query points per dataset


# ----------------------------------------------------------------------------------------------- the prior
def sample_prior(batch, gen, n_ctx=None):
    """Returns X (B, N, DMAX) in [0,1] (zero beyond d), d (B,), y (B, N) raw, n_ctx (int); N = n_ctx + NQUERY."""
    if n_ctx is None:
        n_ctx = int(torch.randint(0, NMAX + 1, (1,), generator=gen))
    B, N = batch, n_ctx + NQUERY
    d = torch.randint(1, DMAX + 1, (B,), generator=gen)
    X = torch.rand(B, N, DMAX, generator=gen, dtype=torch.float64)
    # Kumaraswamy input warping for half of the datasets: x -> 1 - (1 - x^a)^b.
    warp = torch.rand(B, 1, 1, generator=gen, dtype=torch.float64) < 0.5
    a = torch.exp(0.5 * torch.randn(B, 1, DMAX, generator=gen, dtype=torch.float64))
    b = torch.exp(0.5 * torch.randn(B, 1, DMAX, generator=gen, dtype=torch.float64))
    Xw = torch.where(warp, 1.0 - (1.0 - X.clamp(1e-12, 1.0) ** a).clamp(0.0, 1.0) ** b, X)
    dims = torch.arange(DMAX).view(1, DMAX)
    active = dims < d.view(B, 1)  # (B, DMAX)
    gamma = torch.distributions.Gamma(torch.tensor(3.0, dtype=torch.float64), torch.tensor(6.0, dtype=torch.float64))
    # torch.distributions has no generator argument: draw via the global RNG seeded from gen.
    torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
    ls = gamma.sample((B, DMAX)) * torch.sqrt(d.view(B, 1).double())
    ls = ls.clamp_min(0.02)
    irrelevant = (torch.rand(B, DMAX, generator=gen) < 0.2) & (d.view(B, 1) > 1)
    ls = torch.where(irrelevant | ~active, torch.full_like(ls, 1e4), ls)
    s = torch.exp(0.5 * torch.randn(B, generator=gen, dtype=torch.float64))
    noise = s * torch.exp(torch.empty(B, dtype=torch.float64).uniform_(math.log(1e-5), math.log(0.3), generator=gen))
    diff = (Xw.unsqueeze(2) - Xw.unsqueeze(1)) / ls.view(B, 1, 1, DMAX)
    r = torch.sqrt((diff ** 2).sum(-1) + 1e-30)
    k = s.view(B, 1, 1) * (1 + math.sqrt(5) * r + 5.0 / 3.0 * r ** 2) * torch.exp(-math.sqrt(5) * r)
    k = k + (noise.view(B, 1, 1) + 1e-8 * s.view(B, 1, 1)) * torch.eye(N, dtype=torch.float64)
    L = torch.linalg.cholesky(k)
    y = (L @ torch.randn(B, N, 1, generator=gen, dtype=torch.float64)).squeeze(-1)
    X = X * active.unsqueeze(1)
    return X, d, y, n_ctx


def standardize(y, n_ctx):
    """Standardizes y (B, N) by the statistics of the first n_ctx values (the plugin's rule)."""
    B = y.shape[0]
    if n_ctx == 0:
        return y.clone()  # prior predictions: raw prior draws (output scale ~ 1)
    if n_ctx == 1:
        return y - y[:, :1]
    mu = y[:, :n_ctx].mean(1, keepdim=True)
    sd = y[:, :n_ctx].std(1, keepdim=True).clamp_min(1e-8)
    return (y - mu) / sd


def features(X, d):
    """(x - 0.5) * sqrt(DMAX / d) on active dims, 0 elsewhere."""
    B = X.shape[0]
    active = (torch.arange(DMAX).view(1, 1, DMAX) < d.view(B, 1, 1)).to(X.dtype)
    return (X - 0.5) * active * torch.sqrt(DMAX / d.to(X.dtype)).view(B, 1, 1)


# ------------------------------------------------------------------------------------------------ the model
class Layer(nn.Module):
    def __init__(self, E, H, FF):
        super().__init__()
        self.E, self.H = E, H
        self.ln1 = nn.LayerNorm(E)
        self.qkv = nn.Linear(E, 3 * E)
        self.out = nn.Linear(E, E)
        self.ln2 = nn.LayerNorm(E)
        self.ff1 = nn.Linear(E, FF)
        self.ff2 = nn.Linear(FF, E)

    def forward(self, h, n_keys):
        # h: (B, T, E); the first n_keys tokens are the context (keys/values for everyone).
        B, T, E = h.shape
        H, Dh = self.H, E // self.H
        z = self.ln1(h)
        q, k, v = self.qkv(z).split(E, dim=-1)
        q = q.view(B, T, H, Dh).transpose(1, 2)
        k = k[:, :n_keys].reshape(B, n_keys, H, Dh).transpose(1, 2)
        v = v[:, :n_keys].reshape(B, n_keys, H, Dh).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(Dh), dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, E)
        h = h + self.out(o)
        h = h + self.ff2(F.gelu(self.ff1(self.ln2(h))))
        return h


class PFN(nn.Module):
    def __init__(self, E=128, H=4, L=4, FF=256, DH=256, K=500):
        super().__init__()
        self.cfg = dict(E=E, H=H, L=L, FF=FF, DH=DH, K=K)
        self.xenc = nn.Linear(DMAX, E)
        self.yenc = nn.Linear(1, E)
        self.prior_token = nn.Parameter(torch.zeros(E))
        self.layers = nn.ModuleList([Layer(E, H, FF) for _ in range(L)])
        self.lnf = nn.LayerNorm(E)
        self.dec1 = nn.Linear(E, DH)
        self.dec2 = nn.Linear(DH, K)

    def forward(self, xf, ys, n_ctx):
        """xf (B, N, DMAX) features, ys (B, N) standardized y; returns logits (B, N - n_ctx, K)."""
        B = xf.shape[0]
        tok = self.xenc(xf)
        ctx = tok[:, :n_ctx] + self.yenc(ys[:, :n_ctx].unsqueeze(-1))
        pt = self.prior_token.view(1, 1, -1).expand(B, 1, -1)
        h = torch.cat([pt, ctx, tok[:, n_ctx:]], dim=1)
        for layer in self.layers:
            h = layer(h, n_ctx + 1)
        h = self.lnf(h[:, n_ctx + 1:])
        return self.dec2(F.gelu(self.dec1(h)))


# ------------------------------------------------------------------------------------ the bar distribution
HALFNORMAL_MEDIAN = 0.6744897501960817  # the median of |N(0,1)|: half of a tail's mass lies within one bucket width


def bar_nll(logits, borders, y):
    """Bar-distribution NLL with half-normal tails. logits (..., K), borders (K+1,), y (...)."""
    K = logits.shape[-1]
    logp = torch.log_softmax(logits, -1)
    widths = borders[1:] - borders[:-1]
    idx = torch.searchsorted(borders[1:-1].contiguous(), y.contiguous()).clamp(0, K - 1)
    lp = logp.gather(-1, idx.unsqueeze(-1)).squeeze(-1)
    # interior buckets: uniform density p / width
    dens = lp - torch.log(widths[idx])
    # tails: p * half-normal density
    sl = widths[0] / HALFNORMAL_MEDIAN
    sr = widths[-1] / HALFNORMAL_MEDIAN
    zl = (borders[1] - y) / sl
    zr = (y - borders[-2]) / sr
    hn = lambda z, s: math.log(2.0) - 0.5 * math.log(2 * math.pi) - 0.5 * z * z - torch.log(s)
    dens = torch.where(idx == 0, lp + hn(zl, sl), dens)
    dens = torch.where(idx == K - 1, lp + hn(zr, sr), dens)
    return -dens


def make_borders(K, gen, n_batches=200):
    vals = []
    for _ in range(n_batches):
        X, d, y, n = sample_prior(64, gen)
        ys = standardize(y, n)
        vals.append(ys[:, n:].reshape(-1))
    v = torch.cat(vals).clamp(-1e3, 1e3)
    q = torch.quantile(v, torch.linspace(0, 1, K + 1, dtype=torch.float64))
    q[0] = torch.quantile(v, 0.0005)
    q[-1] = torch.quantile(v, 0.9995)
    # strictly increasing borders
    for i in range(1, K + 1):
        if q[i] <= q[i - 1]:
            q[i] = q[i - 1] + 1e-6
    return q


# ------------------------------------------------------------------------------------------ the weight file
MAGIC = b"BBOPFN01"


def param_list(model):
    """The order of float32 arrays in the weight file (docs/surrogates.md "## pfn" documents it)."""
    out = [model.xenc.weight, model.xenc.bias, model.yenc.weight, model.yenc.bias, model.prior_token]
    for l in model.layers:
        out += [l.ln1.weight, l.ln1.bias, l.qkv.weight, l.qkv.bias, l.out.weight, l.out.bias,
                l.ln2.weight, l.ln2.bias, l.ff1.weight, l.ff1.bias, l.ff2.weight, l.ff2.bias]
    out += [model.lnf.weight, model.lnf.bias, model.dec1.weight, model.dec1.bias, model.dec2.weight, model.dec2.bias]
    return out


def write_weights(path, model, borders):
    c = model.cfg
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<8I", DMAX, NMAX, c["E"], c["H"], c["L"], c["FF"], c["DH"], c["K"]))
        f.write(np.asarray(borders.detach().cpu().numpy(), dtype="<f8").tobytes())
        for p in param_list(model):
            f.write(np.asarray(p.detach().cpu().numpy(), dtype="<f4").tobytes())  # row-major (out, in)
    os.replace(tmp, path)


def write_fixture(path, model, borders):
    """Fixture inputs (3 cases) and the float64 forward pass of the float32 weights."""
    m64 = PFN(**model.cfg).double()
    m64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    gen = torch.Generator().manual_seed(12345)
    cases = []
    for n_ctx, dd in [(0, 2), (7, 3), (25, 8)]:
        X = torch.rand(1, n_ctx + 5, DMAX, generator=gen, dtype=torch.float64)
        X[:, :, dd:] = 0
        y = torch.randn(1, n_ctx + 5, generator=gen, dtype=torch.float64)
        d = torch.tensor([dd])
        with torch.no_grad():
            logits = m64(features(X, d), y, n_ctx)[0]
        cases.append(dict(d=dd, n=n_ctx, x=X[0, :, :dd].tolist(), ys=y[0, :n_ctx].tolist(),
                          logits=logits.tolist()))
    with open(path, "w") as f:
        json.dump(dict(cases=cases), f)


# ---------------------------------------------------------------------------------------------- training
def train(args):
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    log = open(os.path.join(args.out, "training_log.txt"), "a")

    def say(msg):
        print(msg)
        log.write(msg + "\n")
        log.flush()

    say("# " + " ".join(sys.argv))
    if args.resume:
        # a second phase: the checkpoint's network and borders, a fresh warm-up + cosine schedule and optimizer,
        # a different data stream (seed)
        ck = torch.load(args.resume)
        borders = ck["borders"]
        model = PFN(**ck["cfg"])
        model.load_state_dict(ck["model"])
        say(f"# resumed from {args.resume} (step {ck['step']})")
    else:
        borders = make_borders(args.buckets, gen)
        model = PFN(E=args.emsize, H=args.heads, L=args.layers, FF=args.ff, DH=args.dec_hidden, K=args.buckets)
    say(f"# params {sum(p.numel() for p in model.parameters())}  borders [{borders[0]:.3f}, {borders[-1]:.3f}]")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-5)
    bf = borders.float()
    t0 = time.time()
    run = 0.0
    for step in range(1, args.steps + 1):
        # cosine schedule over the step budget, or over --max-minutes of wall-clock when that comes first
        progress = max(step / args.steps, (time.time() - t0) / (60.0 * args.max_minutes))
        last = progress >= 1.0 or step == args.steps
        warm = min(1.0, step / args.warmup)
        lr = args.lr * warm * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        for g in opt.param_groups:
            g["lr"] = lr
        X, d, y, n = sample_prior(args.batch, gen)
        ys = standardize(y, n).float()
        xf = features(X, d).float()
        logits = model(xf, ys, n)
        loss = bar_nll(logits, bf, ys[:, n:]).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        run = loss.item() if step == 1 else 0.98 * run + 0.02 * loss.item()
        if step % 25 == 0:
            say(f"step {step} loss {loss.item():.4f} avg {run:.4f} lr {lr:.2e} time {time.time() - t0:.0f}s")
        if step % args.checkpoint_every == 0 or last:
            torch.save(dict(model=model.state_dict(), cfg=model.cfg, borders=borders, step=step),
                       os.path.join(args.out, "checkpoint.pt"))
            write_weights(os.path.join(args.out, "pfn_weights.bin"), model, borders)
            write_fixture(os.path.join(args.out, "pfn_fixture.json"), model, borders)
            say(f"# checkpoint at step {step}")
        if last:
            break


def export(args):
    ck = torch.load(args.ckpt)
    model = PFN(**ck["cfg"])
    model.load_state_dict(ck["model"])
    os.makedirs(args.out, exist_ok=True)
    write_weights(os.path.join(args.out, "pfn_weights.bin"), model, ck["borders"])
    write_fixture(os.path.join(args.out, "pfn_fixture.json"), model, ck["borders"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--out", required=True)
    t.add_argument("--steps", type=int, default=4000)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--warmup", type=int, default=200)
    t.add_argument("--emsize", type=int, default=128)
    t.add_argument("--heads", type=int, default=4)
    t.add_argument("--layers", type=int, default=4)
    t.add_argument("--ff", type=int, default=256)
    t.add_argument("--dec-hidden", type=int, default=256)
    t.add_argument("--buckets", type=int, default=500)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--checkpoint-every", type=int, default=200)
    t.add_argument("--max-minutes", type=float, default=1e9)
    t.add_argument("--resume", default="", help="continue from this checkpoint.pt (network and borders)")
    e = sub.add_parser("export")
    e.add_argument("--ckpt", required=True)
    e.add_argument("--out", required=True)
    args = ap.parse_args()
    train(args) if args.cmd == "train" else export(args)


if __name__ == "__main__":
    main()
