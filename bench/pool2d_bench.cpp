// max_pool2d forward and backward on ResNet-18's stem pooling (3x3, stride 2, padding 1
// on the stem's [32, 64, 112, 112] output, training batch 32), fast path against the
// scalar reference in one binary, so the ratio comes from the same run (PERF.md: compare
// side by side). Bytes counted for the forward: x read once, y and the i64 indices
// written once.
//
//   build/release/bench/pool2d_bench --benchmark_min_time=0.5
// Threads: 2 unless LOWBIT_NUM_THREADS is set.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "tensor/config.h"
#include "tensor/ops_nn.h"
#include "tensor/random.h"

namespace {

using namespace lowbit;

void set_threads() {
  if (!std::getenv("LOWBIT_NUM_THREADS")) set_num_threads(2);
}

const Shape kStem = {32, 64, 112, 112};

// state.range(0): 1 = fast kernels, 0 = the reference.
void BM_max_pool2d_stem(benchmark::State& state) {
  set_threads();
  ReferenceModeGuard mode(state.range(0) == 0);
  const Tensor x = normal(kStem);
  for (auto _ : state) {
    auto [y, idx] = raw::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
    benchmark::DoNotOptimize(y.data_ptr());
  }
  const int64_t out = x.numel() / 4;
  state.SetBytesProcessed(state.iterations() * (x.numel() * 4 + out * (4 + 8)));
}

void BM_max_pool2d_backward_stem(benchmark::State& state) {
  set_threads();
  ReferenceModeGuard mode(state.range(0) == 0);
  const Tensor x = normal(kStem);
  const auto [y, idx] = raw::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  const Tensor dy = normal(y.sizes());
  for (auto _ : state) {
    const Tensor dx = raw::max_pool2d_backward(dy, idx, x.sizes());
    benchmark::DoNotOptimize(dx.data_ptr());
  }
}

}  // namespace

BENCHMARK(BM_max_pool2d_stem)->Arg(1)->Arg(0)->ArgName("fast")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_max_pool2d_backward_stem)->Arg(1)->Arg(0)->ArgName("fast")->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
