"""EfficientNet-Lite0 as the TF release defines it (B0 stages, no squeeze-excitation,
ReLU6, stem 32 and head 1280 fixed, BN eps 1e-3), with timm's `efficientnet_lite0`
module names (conv_stem, bn1, blocks.<stage>.<i>.conv_pw / conv_dw / conv_pwl, conv_head,
bn2, classifier) and PyTorch's symmetric padding. Stochastic depth is left out: the
golden data compare forward passes with it off."""
import torch
import torch.nn as nn

STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


def bn(c):
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class DepthwiseSeparableConv(nn.Module):
    def __init__(self, inp, out, k, stride):
        super().__init__()
        self.has_skip = stride == 1 and inp == out
        self.conv_dw = nn.Conv2d(inp, inp, k, stride, k // 2, groups=inp, bias=False)
        self.bn1 = bn(inp)
        self.act1 = nn.ReLU6()
        self.conv_pw = nn.Conv2d(inp, out, 1, bias=False)
        self.bn2 = bn(out)

    def forward(self, x):
        y = self.bn2(self.conv_pw(self.act1(self.bn1(self.conv_dw(x)))))
        return x + y if self.has_skip else y


class InvertedResidual(nn.Module):
    def __init__(self, inp, out, k, stride, expand):
        super().__init__()
        mid = inp * expand
        self.has_skip = stride == 1 and inp == out
        self.conv_pw = nn.Conv2d(inp, mid, 1, bias=False)
        self.bn1 = bn(mid)
        self.act1 = nn.ReLU6()
        self.conv_dw = nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False)
        self.bn2 = bn(mid)
        self.act2 = nn.ReLU6()
        self.conv_pwl = nn.Conv2d(mid, out, 1, bias=False)
        self.bn3 = bn(out)

    def forward(self, x):
        y = self.act1(self.bn1(self.conv_pw(x)))
        y = self.act2(self.bn2(self.conv_dw(y)))
        y = self.bn3(self.conv_pwl(y))
        return x + y if self.has_skip else y


class EfficientNetLite(nn.Module):
    def __init__(self, num_classes=1000, dropout=0.2):
        super().__init__()
        self.conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self.bn1 = bn(32)
        self.act1 = nn.ReLU6()
        stages, inp = [], 32
        for e, k, s, c, n in STAGES:
            blocks = []
            for i in range(n):
                stride = s if i == 0 else 1
                blocks.append(DepthwiseSeparableConv(inp, c, k, stride) if e == 1
                              else InvertedResidual(inp, c, k, stride, e))
                inp = c
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)
        self.conv_head = nn.Conv2d(inp, 1280, 1, bias=False)
        self.bn2 = bn(1280)
        self.act2 = nn.ReLU6()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(1280, num_classes)

    def forward(self, x):
        x = self.act1(self.bn1(self.conv_stem(x)))
        x = self.act2(self.bn2(self.conv_head(self.blocks(x))))
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.classifier(self.dropout(x))


def efficientnet_lite0(num_classes=1000):
    return EfficientNetLite(num_classes)
