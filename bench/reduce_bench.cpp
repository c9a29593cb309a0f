// Reductions on 16M and 1M floats (raw::sum, raw::aminmax, ...) next to plain reference
// points on the same data, all in one binary so the figures come from the same run
// (PERF.md: compare side by side):
//   - std::accumulate (sequential double sum) and std::minmax_element, one thread: what
//     a straightforward loop gives;
//   - a parallel memchr over a buffer of the same size (BM_read_ceiling): about the read
//     bandwidth the cores reach, the ceiling for a reduction that reads each byte once.
// Bytes counted: the input read once (4 bytes per float), so GB/s compare directly.
//
//   build/release/bench/reduce_bench --benchmark_min_time=0.3
// Threads: 2 unless LOWBIT_NUM_THREADS is set. Targets (PERF.md machine, 2 threads):
// aminmax on 1M floats <= 0.1 ms; sum and aminmax on 16M floats near the ceiling above.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <vector>

#include "tensor/config.h"
#include "tensor/ops.h"

namespace {

constexpr int64_t k16M = 16 << 20;  // 64 MiB of f32: larger than the last-level cache
constexpr int64_t k1M = 1 << 20;    // 4 MiB: cache-resident after the first run

void set_threads() {
  if (!std::getenv("LOWBIT_NUM_THREADS")) lowbit::set_num_threads(2);
}

// Values uniform in [-1, 1) from a fixed LCG (independent of the library's RNG).
lowbit::Tensor data(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  uint64_t s = 12345;
  for (float& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = static_cast<float>(static_cast<double>(s >> 11) * 0x1p-52 - 1.0);
  }
  return lowbit::from_vector(v, {n});
}

void bytes_read(benchmark::State& state, int64_t n) {
  state.SetBytesProcessed(state.iterations() * n * static_cast<int64_t>(sizeof(float)));
}

// ---- lowbit ----

void BM_sum(benchmark::State& state) {
  set_threads();
  const int64_t n = state.range(0);
  const lowbit::Tensor x = data(n);
  for (auto _ : state) {
    lowbit::Tensor s = lowbit::raw::sum(x);
    benchmark::DoNotOptimize(s.data_ptr());
  }
  bytes_read(state, n);
}

void BM_aminmax(benchmark::State& state) {
  set_threads();
  const int64_t n = state.range(0);
  const lowbit::Tensor x = data(n);
  for (auto _ : state) {
    auto mm = lowbit::raw::aminmax(x);
    benchmark::DoNotOptimize(mm.first.data_ptr());
  }
  bytes_read(state, n);
}

// Two passes over the input (mean, then squared deviations): about half of sum's GB/s.
void BM_var(benchmark::State& state) {
  set_threads();
  const lowbit::Tensor x = data(k16M);
  for (auto _ : state) {
    lowbit::Tensor v = lowbit::raw::var(x);
    benchmark::DoNotOptimize(v.data_ptr());
  }
  bytes_read(state, k16M);
}

// argmax is a scalar loop (on OpenMP threads), not SIMD.
void BM_argmax(benchmark::State& state) {
  set_threads();
  const lowbit::Tensor x = data(k16M);
  for (auto _ : state) {
    lowbit::Tensor i = lowbit::raw::argmax(x);
    benchmark::DoNotOptimize(i.data_ptr());
  }
  bytes_read(state, k16M);
}

// The column layout: sum over dim 0 of [4096, 4096] (vectorized across the columns).
void BM_sum_columns(benchmark::State& state) {
  set_threads();
  const lowbit::Tensor x = data(k16M).view({4096, 4096});
  for (auto _ : state) {
    lowbit::Tensor s = lowbit::raw::sum(x, {0});
    benchmark::DoNotOptimize(s.data_ptr());
  }
  bytes_read(state, k16M);
}

// The column layout for aminmax (per-channel ranges of an activation in NHWC, say).
void BM_aminmax_columns(benchmark::State& state) {
  set_threads();
  const lowbit::Tensor x = data(k16M).view({4096, 4096});
  for (auto _ : state) {
    auto mm = lowbit::raw::aminmax(x, {0});
    benchmark::DoNotOptimize(mm.first.data_ptr());
  }
  bytes_read(state, k16M);
}

// ---- reference points ----

void BM_std_accumulate(benchmark::State& state) {
  const int64_t n = state.range(0);
  const lowbit::Tensor x = data(n);
  const float* p = x.data<float>();
  for (auto _ : state) benchmark::DoNotOptimize(std::accumulate(p, p + n, 0.0));
  bytes_read(state, n);
}

void BM_std_minmax_element(benchmark::State& state) {
  const int64_t n = state.range(0);
  const lowbit::Tensor x = data(n);
  const float* p = x.data<float>();
  for (auto _ : state) benchmark::DoNotOptimize(std::minmax_element(p, p + n));
  bytes_read(state, n);
}

// The read-bandwidth ceiling: glibc's memchr (hand-written SIMD) scanning a buffer of
// the same size for a byte it does not hold, one share per thread.
void BM_read_ceiling(benchmark::State& state) {
  set_threads();
  const int64_t n = state.range(0);
  const lowbit::Tensor x = lowbit::zeros({n});
  const char* p = static_cast<const char*>(x.data_ptr());
  const int64_t bytes = n * static_cast<int64_t>(sizeof(float)), kChunks = 64;
  for (auto _ : state) {
    int64_t found = 0;
#pragma omp parallel for reduction(+ : found) schedule(static)
    for (int64_t c = 0; c < kChunks; ++c)
      found += std::memchr(p + c * (bytes / kChunks), 1, static_cast<size_t>(bytes / kChunks)) != nullptr;
    benchmark::DoNotOptimize(found);
  }
  bytes_read(state, n);
}

BENCHMARK(BM_read_ceiling)->Arg(k16M)->Arg(k1M)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_sum)->Arg(k16M)->Arg(k1M)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_std_accumulate)->Arg(k16M)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_aminmax)->Arg(k16M)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_aminmax)->Arg(k1M)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_std_minmax_element)->Arg(k16M)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_std_minmax_element)->Arg(k1M)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_var)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_argmax)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_sum_columns)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_aminmax_columns)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
