"""PyTorch CPU peer for bench/run.ts (shared/BENCH.md): W1-W6 and W7.

Run by bench/run.ts as Debian's /usr/bin/python3 with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset; prints one JSON object on stdout. Same sizes, same
timing policy as bench/common.ts (median after warm-up, repeats adapted to
the time per iteration). Input values are seeded random numbers (W6 uses
random 28x28 "images": timings do not depend on the values).
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)
EPS = 1e-5
LR = 0.01


def measure(run, budget_ms, min_runs, max_runs, warmups):
    t0 = time.perf_counter()
    run()
    first = (time.perf_counter() - t0) * 1e3
    warm = first
    for _ in range(warmups):
        if warm >= budget_ms / 2:
            break
        t0 = time.perf_counter()
        run()
        warm = (time.perf_counter() - t0) * 1e3
    samples = []
    start = time.perf_counter()
    need = 1 if warm > budget_ms else min_runs
    while len(samples) < max_runs:
        t0 = time.perf_counter()
        run()
        samples.append((time.perf_counter() - t0) * 1e3)
        if len(samples) >= need and (time.perf_counter() - start) * 1e3 > budget_ms:
            break
    s = sorted(samples)
    m = len(s) // 2
    med = s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2
    return {"ms": med, "runs": len(samples), "firstMs": first, "samples": [round(x, 3) for x in samples]}


def w1():
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    return lambda: (a @ b).sum().item()


def train_step(model, opt, x, y):
    """One cross-entropy SGD step on a fixed batch, read back like gpugrad's loss.item()."""
    loss_fn = nn.CrossEntropyLoss()

    def run():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
    return run


def w2():
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    x, y = torch.randn(128, 784), torch.arange(128) * 7 % 10
    return train_step(model, opt, x, y)


def switchable(x, g, b, mw, vw):
    c = x.shape[1]
    v_in, m_in = torch.var_mean(x, (2, 3), unbiased=False, keepdim=True)
    v_ln, m_ln = torch.var_mean(x, (1, 2, 3), unbiased=False, keepdim=True)
    v_bn, m_bn = torch.var_mean(x, (0, 2, 3), unbiased=False, keepdim=True)
    wm, wv = mw.softmax(0), vw.softmax(0)
    mean = wm[0] * m_in + wm[1] * m_ln + wm[2] * m_bn
    var = wv[0] * v_in + wv[1] * v_ln + wv[2] * v_bn
    return (x - mean) / torch.sqrt(var + EPS) * g.view(1, c, 1, 1) + b.view(1, c, 1, 1)


def norm(kind):
    x = torch.randn(32, 64, 32, 32, requires_grad=True)
    gy = torch.randn(32, 64, 32, 32)
    if kind == "bn":
        m = nn.BatchNorm2d(64)
        params = list(m.parameters())
        fwd = m
    else:
        g, b = torch.ones(64, requires_grad=True), torch.zeros(64, requires_grad=True)
        mw, vw = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
        params = [g, b, mw, vw]
        fwd = lambda x: switchable(x, g, b, mw, vw)  # noqa: E731

    def run():
        for p in [x] + params:
            p.grad = None
        fwd(x).backward(gy)
        x.grad.sum().item()
    return run


def w5():
    conv = torch.nn.utils.parametrizations.spectral_norm(nn.Conv2d(256, 256, 3))
    g = torch.randn(256, 256, 3, 3)
    orig = conv.parametrizations.weight.original

    def run():
        orig.grad = None
        conv.weight.backward(g)
        orig.grad.sum().item()
    return run


def w6():
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    x, y = torch.rand(64, 1, 28, 28), torch.arange(64) % 10
    return train_step(model, opt, x, y)


def blas_info():
    import re
    m = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    return m.group(1) if m else "unknown"


PREP = {"W1": w1, "W2": w2, "W3": lambda: norm("bn"), "W4": lambda: norm("sn"), "W5": w5, "W6": w6}


def main():
    args = sys.argv[1:]
    quick = "--quick" in args
    only = None
    if "--only" in args:
        only = args[args.index("--only") + 1].split(",")
    budget, min_runs, max_runs, warmups = (200, 1, 3, 0) if quick else (3000, 3, 40, 1)
    out = {"peer": "pytorch-cpu", "version": torch.__version__, "threads": torch.get_num_threads(),
           "blas": blas_info(), "cells": {}}
    # W7 first: the first W3 call in this fresh process
    if only is None or "W7" in only:
        t0 = time.perf_counter()
        run = norm("bn")
        run()
        out["cells"]["W7"] = {"ms": (time.perf_counter() - t0) * 1e3, "runs": 1}
    for wid, prep in PREP.items():
        if only is not None and wid not in only:
            continue
        try:
            out["cells"][wid] = measure(prep(), budget, min_runs, max_runs, warmups)
        except Exception as e:  # noqa: BLE001
            out["cells"][wid] = {"ms": None, "note": f"error: {e}"}
        print(f"  pytorch-cpu {wid}: {out['cells'][wid].get('ms')}", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
