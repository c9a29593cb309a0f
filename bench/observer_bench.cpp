// Observers (quant/observer*.h, QUANT_NUMERICS §4) on 1M floats, one observe() per
// iteration (the batch's min/max pass included), next to in-process reference points:
//   - std::sort of a copy (what a percentile by full sort costs, torch.quantile's method),
//   - two std::nth_element on a copy (a plain selection).
// The PyTorch peer, on the same values: bench/peers/pytorch_observer_bench.py. Run both
// back to back (PERF.md: same machine, same moment):
//   build/release/bench/observer_bench --benchmark_min_time=0.5; /usr/bin/python3 bench/peers/pytorch_observer_bench.py
// Threads: 2 unless LOWBIT_NUM_THREADS is set. Target: the exact percentile (no
// subsampling) of 1M floats >= 30x faster than torch.quantile's ~100 ms (PERF.md), i.e.
// <= 3.3 ms.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <vector>

#include "quant/observer_kl.h"
#include "quant/observer_minmax.h"
#include "quant/observer_mse.h"
#include "quant/observer_percentile.h"
#include "tensor/config.h"

namespace {

using namespace lowbit::quant;

constexpr int64_t k1M = 1 << 20;

void set_threads() {
  if (!std::getenv("LOWBIT_NUM_THREADS")) lowbit::set_num_threads(2);
}

// Roughly N(0, 1) values (sum of four uniforms of a fixed LCG, scaled to unit variance)
// with 16 planted outliers of +-20 every 65536 values. pytorch_observer_bench.py computes
// the same values with the same arithmetic.
std::vector<float> values() {
  std::vector<float> v(static_cast<size_t>(k1M));
  uint64_t s = 12345;
  for (float& x : v) {
    double sum = 0;
    for (int k = 0; k < 4; ++k) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      sum += static_cast<double>(s >> 11) * 0x1p-53;
    }
    x = static_cast<float>((sum - 2.0) * std::sqrt(3.0));
  }
  for (int64_t k = 0; k < 16; ++k) v[static_cast<size_t>(k * 65536)] = k % 2 ? -20.0f : 20.0f;
  return v;
}

const lowbit::Tensor& data() {
  static const lowbit::Tensor x = lowbit::from_vector(values());
  return x;
}

template <typename Obs>
void run_observe(benchmark::State& state, Obs& obs) {
  set_threads();
  const lowbit::Tensor& x = data();
  for (auto _ : state) {
    obs.observe(x);
    benchmark::DoNotOptimize(obs.num_batches.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * k1M);
}

void BM_minmax(benchmark::State& state) {
  MinMaxObserver obs;
  run_observe(state, obs);
}

// The exact 1st / 99th percentiles of all 1M values (radix select, no subsampling).
void BM_percentile_exact(benchmark::State& state) {
  PercentileObserver obs({}, {.subsample_above = std::numeric_limits<int64_t>::max()});
  run_observe(state, obs);
}

// The default: 1M > 100k values, so a 1% stratified sample (10486 values) is selected.
void BM_percentile_subsampled(benchmark::State& state) {
  PercentileObserver obs;
  run_observe(state, obs);
}

// 95 candidate clip ranges, each a fake quantization of the 1M values and its squared error.
void BM_mse(benchmark::State& state) {
  MseObserver obs;
  run_observe(state, obs);
}

// The same 1M values as 256 channels of 4096 (a conv weight's layout, per channel along
// axis 0): short rows, shared out whole over the threads.
void BM_percentile_per_channel(benchmark::State& state) {
  set_threads();
  PercentileObserver obs({.ch_axis = 0, .num_channels = 256});
  const lowbit::Tensor x = data().view({256, 4096});
  for (auto _ : state) obs.observe(x);
  state.SetItemsProcessed(state.iterations() * k1M);
}

void BM_mse_per_channel(benchmark::State& state) {  // 80 candidates per channel
  set_threads();
  MseObserver obs({.ch_axis = 0, .num_channels = 256});
  const lowbit::Tensor x = data().view({256, 4096});
  for (auto _ : state) obs.observe(x);
  state.SetItemsProcessed(state.iterations() * k1M);
}

// One batch into the 2048-bin |x| histogram and the threshold search (what a calibration
// step plus qparams() cost).
void BM_kl(benchmark::State& state) {
  set_threads();
  const lowbit::Tensor& x = data();
  for (auto _ : state) {
    KlObserver obs;
    obs.observe(x);
    benchmark::DoNotOptimize(obs.qparams().scale.data());
  }
  state.SetItemsProcessed(state.iterations() * k1M);
}

// The two halves of BM_kl.
void BM_kl_histogram(benchmark::State& state) {
  KlObserver obs;
  run_observe(state, obs);
}

void BM_kl_threshold_search(benchmark::State& state) {
  set_threads();
  KlObserver obs;
  obs.observe(data());
  for (auto _ : state) benchmark::DoNotOptimize(obs.qparams().scale.data());
}

// ---- reference points ----

void BM_std_sort_copy(benchmark::State& state) {
  const std::vector<float> v = values();
  for (auto _ : state) {
    std::vector<float> c = v;
    std::sort(c.begin(), c.end());
    benchmark::DoNotOptimize(c.data());
  }
  state.SetItemsProcessed(state.iterations() * k1M);
}

void BM_std_nth_element_copy(benchmark::State& state) {
  const std::vector<float> v = values();
  const int64_t lo = (k1M - 1) / 100, hi = (k1M - 1) * 99 / 100;
  for (auto _ : state) {
    std::vector<float> c = v;
    std::nth_element(c.begin(), c.begin() + lo, c.end());
    std::nth_element(c.begin() + lo, c.begin() + hi, c.end());
    benchmark::DoNotOptimize(c.data());
  }
  state.SetItemsProcessed(state.iterations() * k1M);
}

BENCHMARK(BM_minmax)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_percentile_exact)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_percentile_subsampled)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_percentile_per_channel)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_mse)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_mse_per_channel)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_kl)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_kl_histogram)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_kl_threshold_search)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_std_sort_copy)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_std_nth_element_copy)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
