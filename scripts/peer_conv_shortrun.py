"""Peer baseline for the suite's CONV row: the convolutional energy's
short-run maximum-likelihood step written plainly in PyTorch.

Same problem as `ebm suite`'s CONV row (ebm-bench/src/suite/conv.rs, `ebm suite --only CONV`):
the first 1,500 of the 8x8 digits scaled to [0, 1] (the crate's copy,
ebm-estimators/data/digits8x8.csv), the network

    Conv2d(1, 16, 3, stride 1, pad 1) - SiLU - Conv2d(16, 32, 3, 2, 1) - SiLU
    - Conv2d(32, 32, 3, 2, 1) - SiLU - Flatten - Linear(128, 1)

and one training step = K = 20 unadjusted Langevin steps
x <- x - eps grad E(x) + s xi (eps = 0.01, s = 0.005) for 64 chains started
from uniform noise on [0, 1]^64 (short-run MLE, Nijkamp et al. 2019), then
the loss mean E(data batch of 64) - mean E(negatives) + alpha (mean E^2
over both) with alpha = 0.1, backward, and one Adam step (lr 1e-3).

Conventions as in ../shared/peers: a warm-up, then `--reps` timed runs of
`--steps` steps; one JSON line with the median steps per second. Torch
uses 2 threads (the machine's cores).

Usage: python scripts/peer_conv_shortrun.py [--dtype float32|float64] [--steps 200] [--reps 3]
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
K, EPS, NOISE, BATCH, ALPHA, LR = 20, 0.01, 0.005, 64, 0.1, 1e-3


def digits():
    path = os.path.join(HERE, "..", "ebm-estimators", "data", "digits8x8.csv")
    rows = np.loadtxt(path, delimiter=",", skiprows=1)
    return rows[:1500, :64] / 16.0  # the suite's training rows


def model(dtype):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, 1, 1), torch.nn.SiLU(),
        torch.nn.Conv2d(16, 32, 3, 2, 1), torch.nn.SiLU(),
        torch.nn.Conv2d(32, 32, 3, 2, 1), torch.nn.SiLU(),
        torch.nn.Flatten(), torch.nn.Linear(128, 1),
    )
    return net.to(dtype)


def energy(net, x):
    return net(x.view(-1, 1, 8, 8)).squeeze(-1)


def run(dtype, steps, data, gen):
    net = model(dtype)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    for p in net.parameters():
        p.requires_grad_(True)

    def step():
        idx = torch.randint(0, data.shape[0], (BATCH,), generator=gen)
        pos = data[idx]
        x = torch.rand(BATCH, 64, generator=gen, dtype=dtype)
        for p in net.parameters():
            p.requires_grad_(False)
        for _ in range(K):
            x.requires_grad_(True)
            (g,) = torch.autograd.grad(energy(net, x).sum(), x)
            x = (x - EPS * g + NOISE * torch.randn(x.shape, generator=gen, dtype=dtype)).detach()
        for p in net.parameters():
            p.requires_grad_(True)
        e_pos, e_neg = energy(net, pos), energy(net, x)
        loss = e_pos.mean() - e_neg.mean() + ALPHA * (e_pos.pow(2).mean() + e_neg.pow(2).mean())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(5):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    return steps / (time.perf_counter() - t0), loss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(2)
    dtype = getattr(torch, a.dtype)
    data = torch.tensor(digits(), dtype=dtype)
    gen = torch.Generator().manual_seed(1)
    rates, loss = [], float("nan")
    for _ in range(a.reps):
        r, loss = run(dtype, a.steps, data, gen)
        rates.append(r)
    print(json.dumps({
        "workload": "CONV", "impl": "torch", "dtype": a.dtype, "batch": BATCH, "k": K,
        "steps_per_s": statistics.median(rates), "all": rates, "final_loss": loss,
        "torch": torch.__version__, "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
