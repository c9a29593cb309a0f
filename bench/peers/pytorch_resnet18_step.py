#!/usr/bin/python3
"""PyTorch peer of bench/resnet18_step_bench.cpp: the same ResNet-18 training step
(forward, cross-entropy, backward, SGD lr 0.01) measured the same way (one warm-up step,
then the median of the timed steps), to run interleaved with ours on one machine:

  /usr/bin/python3 bench/peers/pytorch_resnet18_step.py [imagenet|cifar] [steps]

Needs Debian's python3-torch; nothing in the build or the tests uses it.
"""
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = self.down(x) if self.down is not None else x
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + identity)


class ResNet18(nn.Module):
    def __init__(self, cifar, classes):
        super().__init__()
        self.cifar = cifar
        self.stem = nn.Conv2d(3, 64, 3, 1, 1, bias=False) if cifar else nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn = nn.BatchNorm2d(64)
        blocks, cin = [], 64
        for width in (64, 128, 256, 512):
            for b in range(2):
                stride = 2 if b == 0 and width != 64 else 1
                blocks.append(Block(cin, width, stride))
                cin = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        h = F.relu(self.bn(self.stem(x)))
        if not self.cifar:
            h = F.max_pool2d(h, 3, 2, 1)
        h = self.blocks(h)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "imagenet"
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    cifar = mode == "cifar"
    torch.set_num_threads(2)
    torch.manual_seed(0)
    batch, side, classes = (128, 32, 10) if cifar else (32, 224, 1000)
    model = ResNet18(cifar, classes)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    images = torch.randn(batch, 3, side, side)
    labels = torch.randint(0, classes, (batch,))
    print(f"PyTorch {torch.__version__} ResNet-18 ({'CIFAR' if cifar else 'ImageNet'} stem) training step, "
          f"batch {batch}, 3x{side}x{side}, {torch.get_num_threads()} threads")
    seconds = []
    for step in range(steps + 1):
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(images), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        s = time.perf_counter() - t0
        print(f"  step {step}: loss {loss.item():.4f}, {s:.3f} s, {batch / s:.1f} img/s{' (warm-up)' if step == 0 else ''}")
        if step > 0:
            seconds.append(s)
    seconds.sort()
    median = seconds[len(seconds) // 2]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"median {batch / median:.2f} img/s, peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
