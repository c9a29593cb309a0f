#!/usr/bin/python3
"""Golden optimizer trajectories and LR schedules from PyTorch, for tests/optim_test.cpp
and tests/lr_schedule_test.cpp.

Run from anywhere with Debian's python3-torch (torch 1.13; the output is committed, so the
build and the tests never need PyTorch):

    /usr/bin/python3 tests/golden/make_optim_golden.py

It writes optim_golden.json next to this script:

  cases      one entry per optimizer configuration: the param groups and their
             hyper-parameters (as torch.optim.SGD / AdamW take them), the learning rate of
             every group at every step (for the cases driven by a scheduler: torch's own
             values, stepped once per iteration), which parameters have no gradient at
             which step, and the parameters after every step as float32 bit patterns
             (8 hex digits per element, concatenated).
  schedules  the learning rate torch's LinearLR, CosineAnnealingLR, StepLR, MultiStepLR,
             ConstantLR and SequentialLR give at last_epoch = 0..30 (what get_last_lr()
             returns after that many scheduler.step() calls), from base lr 0.1.

Parameters and gradients are not drawn with torch's RNG but with value() below, which
tests/optim_test.cpp repeats in C++: a splitmix64 hash of (seed, stream, step, param,
element) turned into m * 2^(-23 - e) with a 24-bit signed integer m and e in 0..7, one
value in 16 exactly zero. Every such value is a float32 exactly, with magnitudes
spread over 8 binades, so the test needs only the outputs.

Parameter sizes are 1, 7, 37 and 67 elements: ATen's CPU loops run 16 floats at a time
(two AVX2 vectors) and finish with a scalar tail, so these cover tail-only tensors and
tensors with both parts. (This torch was built with GCC's default -ffp-contract=fast, so
the scalar tails contract a*b+c into an FMA just as the vector code calls vec::fmadd;
optim_step.h gives the per-element formulas.)
"""
import json
import math
import os
import warnings

import numpy as np
import torch

MASK = (1 << 64) - 1
SIZES = [1, 7, 37, 67]
STEPS = 6


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def value(seed, stream, step, param, i):
    """An exact float32: stream 0 = initial parameters (step 0), stream 1 = gradients."""
    h = splitmix64((seed << 48) | (stream << 40) | (step << 32) | (param << 24) | i)
    if (h >> 3) & 15 == 0:
        return 0.0
    m = (h >> 40) - (1 << 23)  # 24-bit signed integer
    e = h & 7
    return math.ldexp(m, -23 - e)


def tensor(seed, stream, step, param, n):
    return torch.tensor([value(seed, stream, step, param, i) for i in range(n)], dtype=torch.float32)


def hex_bits(t):
    return "".join("%08x" % int(b) for b in t.detach().numpy().view(np.uint32))


def make_scheduler(name, opt):
    S = torch.optim.lr_scheduler
    if name == "linear":
        return S.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=5)
    if name == "cosine":
        return S.CosineAnnealingLR(opt, T_max=12, eta_min=0.001)
    if name == "step":
        return S.StepLR(opt, step_size=4, gamma=0.5)
    if name == "multistep":
        return S.MultiStepLR(opt, milestones=[3, 8, 8, 20], gamma=0.1)
    if name == "constant":
        return S.ConstantLR(opt, factor=0.25, total_iters=4)
    if name == "warmup_cosine":  # linear warm-up for 5 steps, then cosine over 25
        warm = S.LinearLR(opt, start_factor=0.01, end_factor=1.0, total_iters=5)
        cos = S.CosineAnnealingLR(opt, T_max=25, eta_min=0.0)
        return S.SequentialLR(opt, [warm, cos], milestones=[5])
    if name == "warmup_short_cosine":  # the schedule of the "*_schedule" optimizer cases
        warm = S.LinearLR(opt, start_factor=0.25, end_factor=1.0, total_iters=2)
        cos = S.CosineAnnealingLR(opt, T_max=4, eta_min=0.0)
        return S.SequentialLR(opt, [warm, cos], milestones=[2])
    raise ValueError(name)


# Optimizer cases. "groups": param indices into SIZES and hyper-parameters; "skip": the
# (step, param) pairs whose gradient is None at that step (torch skips those params).
CASES = [
    dict(name="sgd_plain", optimizer="sgd", seed=1, groups=[dict(params=[0, 1, 2, 3], lr=0.1)]),
    dict(name="sgd_momentum_wd", optimizer="sgd", seed=2,
         groups=[dict(params=[0, 1, 2, 3], lr=0.1, momentum=0.9, weight_decay=5e-4)]),
    dict(name="sgd_nesterov", optimizer="sgd", seed=3,
         groups=[dict(params=[0, 1, 2, 3], lr=0.05, momentum=0.9, weight_decay=5e-4, dampening=0.0,
                      nesterov=True)]),
    dict(name="sgd_groups", optimizer="sgd", seed=4,
         groups=[dict(params=[0, 2], lr=0.1, momentum=0.9, weight_decay=5e-4, dampening=0.1),
                 dict(params=[1, 3], lr=0.02, momentum=0.8, weight_decay=0.0)],
         skip=[[2, 2], [3, 1]]),
    dict(name="sgd_schedule", optimizer="sgd", seed=5, scheduler="warmup_short_cosine",
         groups=[dict(params=[0, 1, 2, 3], lr=0.2, momentum=0.9, weight_decay=1e-4)]),
    dict(name="adamw", optimizer="adamw", seed=6,
         groups=[dict(params=[0, 1, 2, 3], lr=1e-3, weight_decay=0.01)]),
    dict(name="adamw_groups_schedule", optimizer="adamw", seed=7, scheduler="warmup_short_cosine",
         groups=[dict(params=[3, 2], lr=1e-2, betas=[0.8, 0.99], eps=1e-6, weight_decay=0.05),
                 dict(params=[1, 0], lr=3e-2, weight_decay=0.0, amsgrad=True)],
         skip=[[2, 0], [2, 1], [4, 3]]),
]


def run_case(case):
    seed = case["seed"]
    params = [tensor(seed, 0, 0, k, n).requires_grad_() for k, n in enumerate(SIZES)]
    groups = []
    for g in case["groups"]:
        d = {k: v for k, v in g.items() if k != "params"}
        if "betas" in d:
            d["betas"] = tuple(d["betas"])
        groups.append(dict(params=[params[k] for k in g["params"]], **d))
    if case["optimizer"] == "sgd":
        opt = torch.optim.SGD(groups, lr=groups[0]["lr"])
    else:
        opt = torch.optim.AdamW(groups)
    sched = make_scheduler(case["scheduler"], opt) if "scheduler" in case else None
    skip = {tuple(s) for s in case.get("skip", [])}
    lrs, after = [], []
    for step in range(1, STEPS + 1):
        for k, p in enumerate(params):
            p.grad = None if (step, k) in skip else tensor(seed, 1, step, k, SIZES[k])
        lrs.append([grp["lr"] for grp in opt.param_groups])
        opt.step()
        if sched is not None:
            sched.step()
        after.append([hex_bits(p) for p in params])
    out = dict(case)
    out["lr_per_step"] = lrs
    out["params_after_step"] = after
    return out


def run_schedule(name, steps=30, base_lr=0.1):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make_scheduler(name, opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return dict(name=name, base_lr=base_lr, lr=lrs)


def main():
    # SequentialLR restarts its next scheduler with step(0), which warns that the epoch
    # argument is deprecated; that is torch's own behaviour, not ours.
    warnings.filterwarnings("ignore", category=UserWarning, module="torch.optim.lr_scheduler")
    golden = dict(
        torch_version=torch.__version__,
        sizes=SIZES,
        steps=STEPS,
        cases=[run_case(c) for c in CASES],
        schedules=[run_schedule(n) for n in
                   ["linear", "cosine", "step", "multistep", "constant", "warmup_cosine"]],
    )
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim_golden.json")
    with open(path, "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
