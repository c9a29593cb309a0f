#!/usr/bin/python3
"""PyTorch peer of bench/observer_bench.cpp: the same 1M float32 values (the same LCG and
arithmetic), timed with the torch operations an observer would use (medians after warm-up):

  quantile       torch.quantile(x, [0.01, 0.99])  (a full sort; 'linear' interpolation)
  kthvalue       torch.kthvalue for the two order statistics (selection)
  histc_2048     torch.histc(|x|, 2048) (the KL observer's histogram)
  aminmax        torch.aminmax(x) (MinMax)
  mse_search     MQBench's MSEObserver search: 95 x (fake_quantize_per_tensor_affine + mean((x - y)^2))

Run back to back with ours (PERF.md: same machine, same moment):

  build/release/bench/observer_bench --benchmark_min_time=0.5; /usr/bin/python3 bench/peers/pytorch_observer_bench.py

Needs Debian's python3-torch; nothing in the build or the tests uses it. 2 threads.
"""
import argparse
import json
import math
import statistics
import time

import torch

N = 1 << 20


def values():
    """Roughly N(0, 1): four uniforms of the LCG summed, centred, scaled by sqrt(3); then
    16 outliers of +-20 every 65536 values. Bit for bit the values of observer_bench.cpp."""
    mask = (1 << 64) - 1
    s = 12345
    out = [0.0] * N
    scale = math.sqrt(3.0)
    for i in range(N):
        total = 0.0
        for _ in range(4):
            s = (s * 6364136223846793005 + 1442695040888963407) & mask
            total += (s >> 11) * 2.0 ** -53
        out[i] = (total - 2.0) * scale
    x = torch.tensor(out, dtype=torch.float64).to(torch.float32)
    for k in range(16):
        x[k * 65536] = -20.0 if k % 2 else 20.0
    return x


def median_ms(fn, reps):
    fn()
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def mse_search(x):
    """MQBench MSEObserver.mse (per tensor, iter=95), int8 symmetric as our default."""
    x_min, x_max = torch.aminmax(x)
    best, best_i = float("inf"), 0
    for i in range(95):
        new_min, new_max = x_min * (1.0 - i * 0.01), x_max * (1.0 - i * 0.01)
        scale = float(torch.max(-new_min, new_max)) / 127.5
        y = torch.fake_quantize_per_tensor_affine(x, max(scale, 1.1920929e-07), 0, -128, 127)
        score = float((y - x).pow(2).mean())
        if score < best:
            best, best_i = score, i
    return best_i


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=21)
    args = parser.parse_args()
    torch.set_num_threads(2)
    x = values()
    q = torch.tensor([0.01, 0.99])
    k_lo, k_hi = int(0.01 * (N - 1)) + 1, int(0.99 * (N - 1)) + 1  # 1-based ranks of floor(h)
    amax = float(x.abs().max())
    cases = {
        "quantile": lambda: torch.quantile(x, q),
        "kthvalue": lambda: (torch.kthvalue(x, k_lo), torch.kthvalue(x, k_hi)),
        "histc_2048": lambda: torch.histc(x.abs(), 2048, 0, amax),
        "aminmax": lambda: torch.aminmax(x),
        "mse_search": lambda: mse_search(x),
    }
    print("torch %s, %d threads, %d float32 values" % (torch.__version__, torch.get_num_threads(), N))
    print("quantile(0.01, 0.99) = %s" % [round(float(v), 6) for v in torch.quantile(x, q)])
    for name, fn in cases.items():
        ms = median_ms(fn, args.reps if name != "mse_search" else max(3, args.reps // 5))
        print("%-12s %10.3f ms" % (name, ms))
        print(json.dumps({"engine": "pytorch " + torch.__version__, "case": name, "n": N, "ms": round(ms, 4),
                          "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
