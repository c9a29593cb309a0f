#!/usr/bin/python3
"""Runs bench/models_bench (lowbit) and pytorch_models_bench.py (PyTorch) alternately,
`--rounds` times each, on the same machine, and prints for every figure the median over
the rounds of each engine's medians and their ratio (lowbit / PyTorch; below 1 is faster).
The machines this project runs on are shared and noisy (PERF.md): one run of each says
little, alternating rounds spread the noise over both engines.

  /usr/bin/python3 bench/peers/compare_models.py [--rounds N] [--bin build/cpu/bench/models_bench]
        [--only forward|train] [--jsonl out.jsonl] [model ...]

Every figure of every round is also appended to --jsonl (one JSON object per line, as the
two benchmarks print them, plus "round"), for a plotting script.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--bin", default=os.path.join(HERE, "..", "..", "build", "cpu", "bench", "models_bench"))
    p.add_argument("--only", choices=["forward", "train"])
    p.add_argument("--jsonl")
    p.add_argument("models", nargs="*", default=["resnet18", "resnet50", "mobilenet_v2"])
    a = p.parse_args()
    extra = (["--only", a.only] if a.only else []) + a.models
    commands = {
        "lowbit": [a.bin] + extra,
        "pytorch": [sys.executable, os.path.join(HERE, "pytorch_models_bench.py")] + extra,
    }
    figures = {}  # (model, what, batch) -> engine -> [ms per round]
    log = open(a.jsonl, "a") if a.jsonl else None
    for r in range(a.rounds):
        order = list(commands) if r % 2 == 0 else list(reversed(commands))  # neither always runs first
        for engine in order:
            for f in run(commands[engine]):
                figures.setdefault((f["model"], f["what"], f["batch"]), {}).setdefault(engine, []).append(f["ms"])
                if log:
                    log.write(json.dumps(dict(f, round=r)) + "\n")
        print("round %d/%d done" % (r + 1, a.rounds), file=sys.stderr, flush=True)
    print("| model | figure | lowbit ms | PyTorch ms | ratio | lowbit rounds (ms) | PyTorch rounds (ms) |")
    print("|---|---|---|---|---|---|---|")
    for (model, what, batch), by in figures.items():
        ours, theirs = statistics.median(by["lowbit"]), statistics.median(by["pytorch"])
        fmt = lambda xs: " ".join("%.1f" % x for x in xs)  # noqa: E731
        print("| %s | %s b%d | %.1f | %.1f | %.2f | %s | %s |" % (model, what, batch, ours, theirs, ours / theirs,
                                                               fmt(by["lowbit"]), fmt(by["pytorch"])))


if __name__ == "__main__":
    main()
