#!/usr/bin/python3
"""Golden data for tests/resnet_test.cpp: torchvision's ResNet-18 state-dict names and
shapes, and its logits for deterministic weights, computed with Debian's python3-torch.

torchvision is not packaged for Debian 12, so the network is written out here from its
documented structure (torchvision.models.resnet: BasicBlock = conv3x3-bn-relu-conv3x3-bn,
+ identity or downsample = conv1x1-bn, relu; stem conv 7x7/2, bn, relu, maxpool 3x3/2;
avgpool, flatten, fc). Module and attribute names are torchvision's, which is what makes
the state-dict names match.

Weights are not random: tensor number t (state-dict order) holds
    0.05 * sin(0.37 * i + 1.3 * t)            (i = flat index)
(running_var: 1 + 0.5 * that; num_batches_tracked: 0), and the input is
    cos(0.11 * i) on [2, 3, 64, 64].
The C++ test fills its model the same way, so no weights file is needed.

Run:  /usr/bin/python3 tests/golden/make_resnet_golden.py   (writes resnet18_golden.txt)
"""
import math
import os

import torch
import torch.nn as nn


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, planes in enumerate([64, 128, 256, 512]):
            stride = 1 if i == 0 else 2
            blocks = [BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes, 1)]
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*blocks))
            inplanes = planes
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def fill(model):
    with torch.no_grad():
        for t, (name, tensor) in enumerate(model.state_dict().items()):
            if name.endswith("num_batches_tracked"):
                tensor.zero_()
                continue
            i = torch.arange(tensor.numel(), dtype=torch.float64)
            v = 0.05 * torch.sin(0.37 * i + 1.3 * t)
            if name.endswith("running_var"):
                v = 1 + 0.5 * v
            tensor.copy_(v.reshape(tensor.shape).to(tensor.dtype))


def main():
    torch.set_num_threads(1)
    model = ResNet18(10).double()
    fill(model)
    x = torch.cos(0.11 * torch.arange(2 * 3 * 64 * 64, dtype=torch.float64)).reshape(2, 3, 64, 64)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resnet18_golden.txt")
    with open(out, "w") as f:
        f.write("# made by make_resnet_golden.py (torch %s): state dict, then logits\n" % torch.__version__)
        for name, tensor in model.state_dict().items():
            f.write("param %s %s %s\n" % (name, str(tensor.dtype).replace("torch.", ""),
                                          ",".join(str(s) for s in tensor.shape) or "-"))
        model.eval()
        with torch.no_grad():
            for v in model(x).flatten().tolist():
                f.write("eval %.17g\n" % v)
        model.train()
        with torch.no_grad():
            logits = model(x)
        for v in logits.flatten().tolist():
            f.write("train %.17g\n" % v)
        for v in model.layer1[0].bn1.running_mean[:4].tolist():
            f.write("running_mean %.17g\n" % v)
    print("wrote", out)


if __name__ == "__main__":
    main()
