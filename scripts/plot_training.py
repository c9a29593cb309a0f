#!/usr/bin/python3
"""Training curves from a `lowbit train` log (JSON lines) as a PNG.

    /usr/bin/python3 scripts/plot_training.py runs/x/log.jsonl runs/x/curves.png

Needs Debian's python3-matplotlib. Panels: training loss per logged step, learning rate,
test top-1 accuracy per epoch, throughput. Several logs (e.g. a run and its resume in one
file) are drawn as one sequence, by step.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    steps, epochs = {}, {}
    with open(argv[1]) as f:
        for n, line in enumerate(f, 1):
            try:
                e = json.loads(line)
            except json.JSONDecodeError as err:
                sys.exit("%s:%d: not JSON (%s)" % (argv[1], n, err))
            if e.get("event") == "step":
                steps[e["step"]] = e  # a resumed run rewrites the steps it repeats
            elif e.get("event") == "epoch":
                epochs[e["epoch"]] = e
    if not steps:
        sys.exit("%s: no step events" % argv[1])
    s = [steps[k] for k in sorted(steps)]
    ep = [epochs[k] for k in sorted(epochs)]
    fig, ax = plt.subplots(2, 2, figsize=(11, 7))
    ax[0][0].plot([e["step"] for e in s], [e["train_loss"] for e in s], label="train loss (epoch so far)")
    ax[0][0].plot([e["step"] for e in s], [e["loss"] for e in s], alpha=0.4, label="train loss (step)")
    if ep:
        ax[0][0].plot([e["step"] for e in ep], [e["test_loss"] for e in ep], "o-", label="test loss")
    ax[0][0].set_xlabel("step")
    ax[0][0].legend()
    ax[0][1].plot([e["step"] for e in s], [e["lr"] for e in s])
    ax[0][1].set_xlabel("step")
    ax[0][1].set_ylabel("learning rate")
    if ep:
        ax[1][0].plot([e["epoch"] for e in ep], [e["test_top1"] for e in ep], "o-", label="test top-1")
    ax[1][0].plot([e["step"] / max(1, s[-1]["step"]) * max(1, len(ep)) for e in s], [e["train_top1"] for e in s],
                  alpha=0.5, label="train top-1 (epoch so far)")
    ax[1][0].set_xlabel("epoch")
    ax[1][0].set_ylabel("accuracy (%)")
    ax[1][0].legend()
    ax[1][1].plot([e["step"] for e in s], [e["images_per_second"] for e in s])
    ax[1][1].set_xlabel("step")
    ax[1][1].set_ylabel("images/s")
    fig.tight_layout()
    fig.savefig(argv[2], dpi=100)
    print("wrote", argv[2])


if __name__ == "__main__":
    main(sys.argv)
