// matmul: our raw::matmul against a direct cblas_sgemm call on the same buffers, for a
// square 1024 GEMM and the ResNet-18 conv GEMMs of PERF.md (M x N x K, batch 1 per layer
// and layer1 at batch 32). Target: ours within 5% of direct OpenBLAS.
//
// The two are interleaved in one benchmark per shape (PERF.md: compare side by side):
// every iteration runs both, alternating which goes first, and times each call. The
// counters are the median GFLOP/s of each and ratio = ours / OpenBLAS (1.0 = same speed).
// Ours includes everything a caller pays: the checks, allocating the result, and running
// OpenBLAS single-threaded on fixed slices (tensor/kernels/matmul_cpu.cpp explains why);
// the direct call lets OpenBLAS use its own threads.
//
//   build/release/bench/matmul_bench --benchmark_min_time=0.3
// Threads: 2 unless LOWBIT_NUM_THREADS is set.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "tensor/config.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace {

void set_threads() {
  if (!std::getenv("LOWBIT_NUM_THREADS")) lowbit::set_num_threads(2);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// C (m x n) = A (m x k) @ B (k x n), all f32, row-major.
void BM_matmul_vs_openblas(benchmark::State& state) {
  set_threads();
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  lowbit::Generator gen{1, 0};
  const lowbit::Tensor a = lowbit::uniform({m, k}, -1, 1, lowbit::DType::f32, lowbit::Device::cpu(), &gen);
  const lowbit::Tensor b = lowbit::uniform({k, n}, -1, 1, lowbit::DType::f32, lowbit::Device::cpu(), &gen);
  lowbit::Tensor c = lowbit::empty({m, n});
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* pc = c.data<float>();
  using Clock = std::chrono::steady_clock;

  auto run_ours = [&] {
    const auto t0 = Clock::now();
    lowbit::Tensor out = lowbit::raw::matmul(a, b);
    benchmark::DoNotOptimize(out.data_ptr());
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  auto run_blas = [&] {
    const auto t0 = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
                static_cast<blasint>(k), 1.0f, pa, static_cast<blasint>(k), pb, static_cast<blasint>(n), 0.0f, pc,
                static_cast<blasint>(n));
    benchmark::ClobberMemory();
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };

  run_ours();  // warm-up: OpenBLAS buffers, page faults of the allocator
  run_blas();
  std::vector<double> ours, blas;
  bool ours_first = true;
  for (auto _ : state) {
    if (ours_first) {
      ours.push_back(run_ours());
      blas.push_back(run_blas());
    } else {
      blas.push_back(run_blas());
      ours.push_back(run_ours());
    }
    ours_first = !ours_first;
  }
  const double gflop = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) * 1e-9;
  state.counters["ours_GFLOPs"] = gflop / median(ours);
  state.counters["blas_GFLOPs"] = gflop / median(blas);
  state.counters["ratio"] = median(blas) / median(ours);
  state.counters["threads"] = lowbit::num_threads();
}

// M, N, K
BENCHMARK(BM_matmul_vs_openblas)
    ->ArgNames({"M", "N", "K"})
    ->Args({1024, 1024, 1024})   // square
    ->Args({64, 3136, 576})      // ResNet-18 layer1 3x3 conv, batch 1
    ->Args({128, 784, 1152})     // layer2, batch 1
    ->Args({256, 196, 2304})     // layer3, batch 1
    ->Args({512, 49, 4608})      // layer4, batch 1
    ->Args({64, 100352, 576})    // layer1 forward, batch 32
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
