#!/usr/bin/python3
"""PyTorch peer of bench/models_bench.cpp: the same networks (tests/golden/torch_zoo, the
torchvision layouts), the same figures measured the same way (eval forward at batch 1 and
8, training step with cross-entropy and SGD momentum 0.9 at batch 32, 224 x 224; medians
after warm-up), to run interleaved with ours on one machine:

  /usr/bin/python3 bench/peers/pytorch_models_bench.py [--reps N] [--steps N] [--only forward|train] [--cifar] [model ...]

Needs Debian's python3-torch; nothing in the build or the tests uses it. 2 threads.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden"))
from torch_zoo import efficientnet_lite, mobilenet_v2, regnet, resnet  # noqa: E402

MODELS = {
    "resnet18": resnet.resnet18, "resnet34": resnet.resnet34, "resnet50": resnet.resnet50,
    "mobilenet_v2": mobilenet_v2.mobilenet_v2, "efficientnet_lite0": efficientnet_lite.efficientnet_lite0,
    "regnet_x_400mf": regnet.regnet_x_400mf, "regnet_x_600mf": regnet.regnet_x_600mf,
    "regnet_x_800mf": regnet.regnet_x_800mf,
}


def report(model, what, batch, size, ms):
    print("%-20s %-8s batch %3d  %4dx%-4d %10.2f ms  %8.1f img/s" % (model, what, batch, size, size, ms,
                                                                   1000.0 * batch / ms))
    print(json.dumps({"engine": "pytorch " + torch.__version__, "model": model, "what": what, "batch": batch,
                      "size": size, "ms": round(ms, 3), "threads": torch.get_num_threads(),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}), flush=True)


def time_forward(model, batch, size, reps):
    x = torch.randn(batch, 3, size, size)
    model.eval()
    with torch.no_grad():
        for _ in range(2):
            model(x)
        ms = []
        for _ in range(reps):
            t0 = time.perf_counter()
            model(x)
            ms.append(1000 * (time.perf_counter() - t0))
    return statistics.median(ms)


def time_train_step(model, batch, size, steps, classes):
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, classes, (batch,))
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    ms = []
    for i in range(steps + 1):  # step 0 is the warm-up
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if i > 0:
            ms.append(1000 * (time.perf_counter() - t0))
    return statistics.median(ms)


def cifar_stem(model):
    """lowbit's Stem::cifar: the first conv at stride 1, no max pool."""
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    first.stride = (1, 1)
    if hasattr(model, "maxpool"):
        model.maxpool = torch.nn.Identity()
    return model


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--only", choices=["forward", "train"])
    p.add_argument("--cifar", action="store_true")
    p.add_argument("models", nargs="*", default=["resnet18", "resnet50", "mobilenet_v2"])
    a = p.parse_args()
    torch.set_num_threads(int(os.environ.get("LOWBIT_NUM_THREADS", "2")))
    print("# pytorch %s models bench, %d threads" % (torch.__version__, torch.get_num_threads()))
    for name in a.models:
        if a.cifar:
            model = cifar_stem(MODELS[name](10))
            report(name, "train", 128, 32, time_train_step(model, 128, 32, a.steps, 10))
            continue
        model = MODELS[name](1000)
        if a.only != "train":
            report(name, "forward", 1, 224, time_forward(model, 1, 224, a.reps))
            report(name, "forward", 8, 224, time_forward(model, 8, 224, max(3, a.reps // 3)))
        if a.only != "forward":
            report(name, "train", 32, 224, time_train_step(model, 32, 224, a.steps, 1000))


if __name__ == "__main__":
    main()
