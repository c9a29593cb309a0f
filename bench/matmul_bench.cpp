// matmul: our raw::matmul against a direct cblas_sgemm call on the same inputs, for a
// square 1024 GEMM and the ResNet-18 conv GEMMs of PERF.md (M x N x K, batch 1 per layer
// and layer1 at batch 32). Target: ours within 5% of direct OpenBLAS.
//
// Three calls are interleaved in one benchmark per shape (PERF.md: compare side by side);
// every iteration runs each once, rotating which goes first, and times each call:
//   blas          cblas_sgemm into a preallocated C, OpenBLAS threading itself;
//   ours          raw::matmul(a, b), what a caller pays: checks, allocating C, the kernel;
//   noalloc       the same kernel (lowbit::matmul from kernels/matmul.h) into blas's C.
// The counters are median GFLOP/s and ratio = ours / blas (1.0 = same speed). The two
// "ours" differ by allocating C: cheap when the host allocator hands back a cached block,
// but fresh pages cost a fault each (measured on this VM: 25 MiB of new 4 KiB pages took
// ~22 ms to first touch, ~14% of the 64x100352x576 GEMM).
//
// Ours runs OpenBLAS single-threaded on fixed slices (tensor/kernels/matmul_cpu.cpp
// explains why); the direct call lets OpenBLAS use its own threads.
//
//   build/release/bench/matmul_bench --benchmark_min_time=0.3
// Threads: 2 unless LOWBIT_NUM_THREADS is set.
#include <benchmark/benchmark.h>
#include "tensor/kernels/blas.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <vector>

#include "tensor/config.h"
#include "tensor/kernels/matmul.h"
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
  lowbit::Tensor c = lowbit::zeros({m, n});
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* pc = c.data<float>();
  lowbit::MatmulParams p;  // the parameters raw::matmul passes for contiguous 2-D inputs
  p.m = m;
  p.n = n;
  p.k = k;
  p.lda = k;
  p.ldb = n;
  p.ldc = n;

  const std::function<void()> calls[3] = {
      [&] {
        lowbit::blas::sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
                    static_cast<blasint>(k), 1.0f, pa, static_cast<blasint>(k), pb, static_cast<blasint>(n), 0.0f,
                    pc, static_cast<blasint>(n));
        benchmark::ClobberMemory();
      },
      [&] {
        lowbit::Tensor out = lowbit::raw::matmul(a, b);
        benchmark::DoNotOptimize(out.data_ptr());
      },
      [&] {
        lowbit::matmul(lowbit::Device::cpu(), p, pa, pb, pc);
        benchmark::ClobberMemory();
      },
  };
  auto timed = [](const std::function<void()>& call) {
    const auto t0 = std::chrono::steady_clock::now();
    call();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };

  for (const auto& call : calls) call();  // warm-up: OpenBLAS buffers, the allocator
  std::vector<double> seconds[3];
  int first = 0;
  for (auto _ : state) {
    for (int i = 0; i < 3; ++i) {
      const int which = (first + i) % 3;
      seconds[which].push_back(timed(calls[which]));
    }
    first = (first + 1) % 3;
  }
  const double gflop = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) * 1e-9;
  const double blas = median(seconds[0]), ours = median(seconds[1]), noalloc = median(seconds[2]);
  state.counters["blas_GFLOPs"] = gflop / blas;
  state.counters["ours_GFLOPs"] = gflop / ours;
  state.counters["noalloc_GFLOPs"] = gflop / noalloc;
  state.counters["ratio"] = blas / ours;
  state.counters["ratio_noalloc"] = blas / noalloc;
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
