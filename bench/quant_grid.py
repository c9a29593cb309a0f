#!/usr/bin/env python3
"""The QAT experiment grid of MQBench's Table 6: every algorithm on every backend, each
fine-tuned from one float checkpoint with a small epoch budget, written as a Markdown
table (rows: algorithms; columns: backends; a last column with the hardware gap,
academic minus the mean of the hardware backends, as the paper reports it).

    /usr/bin/python3 bench/quant_grid.py runs/r20/best.safetensors --out runs/grid \
        [--algorithms lsq,lsqplus,pact,dorefa,dsq] [--backends academic,tensorrt,acl,tvm,snpe,fbgemm] \
        [--w-bits 4] [--a-bits 4] [--epochs 1] [--limit-train 0] [--lr 0.01] [--lowbit build/release/tools/lowbit]

Each cell is `lowbit train --quant ...` into <out>/<algorithm>-<backend>/ (log.jsonl,
checkpoints, prepare.txt); a cell already finished (its log has a summary line) is read,
not rerun, so an interrupted grid continues where it stopped. Algorithms whose weight
quantizer is per tensor only (DoReFa, DSQ; LSQ+ and LSQ on asymmetric per-channel
weights) run per-channel backends with `--set weight_per_channel=false` (marked †);
DoReFa runs backends that fold BN with `--set fold_bn=false` (marked ‡). Writes <out>/grid.md and <out>/grid.jsonl (one JSON object per cell).
Standard library only; not part of the test suite (hours on 2 cores at full size).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time


MARKS = {"weight_per_channel=false": " †", "fold_bn=false": " ‡"}


def read_log(path):
    """The summary and best accuracy of a finished run, or None."""
    if not os.path.exists(path):
        return None
    summary = None
    best = None
    with open(path) as f:
        for line in f:
            j = json.loads(line)
            if j.get("event") == "epoch":
                best = max(best or 0.0, j["test_top1"])
            if j.get("event") == "summary":
                summary = j
    if summary is None:
        return None
    summary["best_top1"] = best
    return summary


def float_accuracy(lowbit, weights, threads):
    out = subprocess.run([lowbit, "eval", weights] + threads, check=True, capture_output=True, text=True).stdout
    return float(out.split("top-1 ")[1].split("%")[0])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights", help="float checkpoint (lowbit train)")
    p.add_argument("--out", default="runs/grid")
    p.add_argument("--algorithms", default="lsq,lsqplus,pact,dorefa,dsq")
    p.add_argument("--backends", default="academic,tensorrt,acl,tvm,snpe,fbgemm")
    p.add_argument("--w-bits", type=int, default=4)
    p.add_argument("--a-bits", type=int, default=4)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--limit-train", type=int, default=0)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--lowbit", default="build/release/tools/lowbit")
    a = p.parse_args()
    threads = ["--threads", str(a.threads)] if a.threads else []
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    fp = float_accuracy(a.lowbit, a.weights, threads)
    print(f"float model: top-1 {fp:.2f}%", flush=True)
    algorithms, backends = a.algorithms.split(","), a.backends.split(",")
    cells = {}
    with open(os.path.join(a.out, "grid.jsonl"), "a") as jl:
        for alg in algorithms:
            for be in backends:
                run = os.path.join(a.out, f"{alg}-{be}")
                cmd = [a.lowbit, "train", "--quant", "--init", a.weights, "--algorithm", alg, "--backend", be,
                       "--w-bits", str(a.w_bits), "--a-bits", str(a.a_bits), "--epochs", str(a.epochs),
                       "--lr", str(a.lr), "--warmup-epochs", "0", "--batch-size", str(a.batch_size),
                       "--out", run, "--plain"] + threads
                if a.limit_train:
                    cmd += ["--limit-train", str(a.limit_train)]
                meta = os.path.join(run, "grid_cell.json")
                overrides = json.load(open(meta))["overrides"] if os.path.exists(meta) else []
                result = read_log(os.path.join(run, "log.jsonl"))
                if result is None:
                    print(f"{alg} x {be}: training", flush=True)
                    overrides = []
                    while True:
                        extra = sum((["--set", o] for o in overrides), [])
                        proc = subprocess.run(cmd + model_args(a.weights) + extra, capture_output=True, text=True)
                        # A combination the algorithm cannot take names its override.
                        m = re.search(r"override it with (\w+=\w+)", proc.stderr)
                        if proc.returncode == 0 or not m or m.group(1) in overrides:
                            break
                        overrides.append(m.group(1))
                    if proc.returncode != 0:
                        sys.exit(f"{alg} x {be} failed:\n{proc.stderr[-2000:]}")
                    json.dump({"overrides": overrides}, open(meta, "w"))
                    result = read_log(os.path.join(run, "log.jsonl"))
                cells[(alg, be)] = (result["test_top1"], overrides)
                jl.write(json.dumps({"algorithm": alg, "backend": be, "top1": result["test_top1"],
                                     "best_top1": result["best_top1"], "overrides": overrides,
                                     "train_seconds": result["train_seconds"]}) + "\n")
                print(f"{alg} x {be}: top-1 {result['test_top1']:.2f}%", flush=True)
    hours = (time.time() - t0) / 3600
    lines = [f"W{a.w_bits}A{a.a_bits} QAT, {a.epochs} epoch(s) from the float checkpoint `{a.weights}` "
             f"(float top-1 {fp:.2f}%); top-1 on the 10k Fashion-MNIST test images.", "",
             "| algorithm | " + " | ".join(backends) + " | hardware gap |",
             "|---|" + "---|" * (len(backends) + 1)]
    for alg in algorithms:
        row = []
        for be in backends:
            acc, overrides = cells[(alg, be)]
            row.append(f"{acc:.2f}" + "".join(MARKS[o] for o in overrides))
        hw = [cells[(alg, be)][0] for be in backends if be != "academic"]
        gap = f"{cells[(alg, 'academic')][0] - sum(hw) / len(hw):+.2f}" if "academic" in backends and hw else ""
        lines.append(f"| {alg} | " + " | ".join(row) + f" | {gap} |")
    lines += ["", "† per-tensor weights (`--set weight_per_channel=false`): the algorithm's weight quantizer is "
              "per tensor only.", "‡ BN not folded (`--set fold_bn=false`): DoReFa's weight normalisation drops the "
              "weight's scale, which a folded BN cannot evaluate.", "", f"Command: `{' '.join(sys.argv)}`; {hours:.2f} h."]
    open(os.path.join(a.out, "grid.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


def model_args(weights):
    """--model from the checkpoint's safetensors metadata (the JSON header)."""
    with open(weights, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    return ["--model", header["__metadata__"]["model"]]


if __name__ == "__main__":
    main()
