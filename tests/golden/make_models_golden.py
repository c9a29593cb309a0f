#!/usr/bin/python3
"""Golden data for tests/model_zoo_test.cpp: for each zoo model, its PyTorch state-dict
names, dtypes and shapes, and its logits for deterministic weights and input, in eval
mode and after one training-mode forward (BN batch statistics), in f64 and in f32.

The networks are torchvision's (and timm's EfficientNet-Lite0) written out in
tests/golden/torch_zoo/ with the same module names, since torchvision is not packaged
for Debian 12; the C++ test builds the lowbit model by name (models::create) and fills it
with the same weights, so no weights file is committed.

Weights: tensor number t of the state dict (its order), element i,
s = sin(0.37 i + 1.3 t + 0.7 ((i * i) mod 1009)):
    conv / linear weight  2 s / sqrt(fan_in)     (fan_in = numel / size(0); He-like scale,
                                                 so that deep networks keep their signal)
    BN weight             1 + 0.2 s
    any bias, BN running_mean   0.1 s
    BN running_var        1 + 0.25 s
    num_batches_tracked   0
Input: the same s with t = -1, on [2, 3, 128, 128] (4x4 at the last stage:
training-mode BN there normalises 32 values per channel). Training-mode forwards keep Dropout (and stochastic
depth, which the C++ side also has) in eval mode: they are random.

Run:  /usr/bin/python3 tests/golden/make_models_golden.py   (writes tests/golden/models/*.txt)
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_zoo import efficientnet_lite, mobilenet_v2, regnet, resnet  # noqa: E402

MODELS = {
    "resnet18": resnet.resnet18,
    "resnet50": resnet.resnet50,
    "mobilenet_v2": mobilenet_v2.mobilenet_v2,
    "efficientnet_lite0": efficientnet_lite.efficientnet_lite0,
    "regnet_x_400mf": regnet.regnet_x_400mf,
    "regnet_x_600mf": regnet.regnet_x_600mf,
}
NUM_CLASSES = 10
INPUT_SHAPE = (2, 3, 128, 128)


def scrambled_sin(n, t):
    """sin(0.37 i + 1.3 t + 0.7 ((i * i) mod 1009)), i = 0..n-1: the quadratic residue keeps
    weight matrices full-rank (a plain sin(a i + c) makes every weight matrix rank 2, and
    training-mode BN of such degenerate features amplifies rounding a thousandfold)."""
    ii = torch.arange(n, dtype=torch.int64)
    i = ii.to(torch.float64)
    k = ((ii * ii) % 1009).to(torch.float64)
    return torch.sin(0.37 * i + 1.3 * t + 0.7 * k)


def fill(model):
    with torch.no_grad():
        for t, (name, tensor) in enumerate(model.state_dict().items()):
            if name.endswith("num_batches_tracked"):
                tensor.zero_()
                continue
            s = scrambled_sin(tensor.numel(), t)
            if name.endswith("running_var"):
                v = 1 + 0.25 * s
            elif name.endswith("running_mean") or name.endswith("bias"):
                v = 0.1 * s
            elif tensor.dim() == 1:  # BN weight
                v = 1 + 0.2 * s
            else:
                v = 2 * s / math.sqrt(tensor.numel() // tensor.shape[0])
            tensor.copy_(v.reshape(tensor.shape).to(tensor.dtype))


def train_mode(model):
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.eval()


def logits(model, x, training):
    train_mode(model) if training else model.eval()
    with torch.no_grad():
        return model(x).flatten().tolist()


def main():
    torch.set_num_threads(1)
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
    os.makedirs(out_dir, exist_ok=True)
    x64 = scrambled_sin(math.prod(INPUT_SHAPE), -1).reshape(INPUT_SHAPE)
    for name, make in MODELS.items():
        lines = ["# made by make_models_golden.py (torch %s): state dict, then logits" % torch.__version__]
        rows = {}
        for dtype in (torch.float64, torch.float32):
            model = make(NUM_CLASSES).to(dtype)
            fill(model.double())  # the f64 values, rounded once to f32 below
            model = model.to(dtype)
            if dtype == torch.float64:
                for pname, tensor in model.state_dict().items():
                    lines.append("param %s %s %s" % (pname, str(tensor.dtype).replace("torch.", ""),
                                                      ",".join(str(s) for s in tensor.shape) or "-"))
            tag = "64" if dtype == torch.float64 else "32"
            x = x64.to(dtype)
            rows["eval" + tag] = logits(model, x, False)
            rows["train" + tag] = logits(model, x, True)
            if dtype == torch.float64:
                first_mean = next(t for n, t in model.state_dict().items() if n.endswith("running_mean"))
                rows["running_mean"] = first_mean[:4].tolist()
        for kind, values in rows.items():
            lines += ["%s %.17g" % (kind, v) for v in values]
        path = os.path.join(out_dir, name + ".txt")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        print("wrote", path, "params", sum(p.numel() for p in make(1000).parameters()))


if __name__ == "__main__":
    main()
