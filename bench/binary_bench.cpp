// Elementwise add and mul (and relu's backward, fused vs gt + where) on 16M floats
// against a plain memcpy of the same buffer size, all in one binary so the figures come
// from the same run (PERF.md: compare side by side). Bytes counted: every byte read plus every byte written
// (add: 2 reads + 1 write; memcpy: 1 read + 1 write), so GB/s are comparable.
//
//   build/release/bench/binary_bench --benchmark_min_time=0.5
// Threads: 2 unless LOWBIT_NUM_THREADS is set.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>

#include "tensor/config.h"
#include "tensor/device_memory.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace {

constexpr int64_t kN = 16 << 20;  // 16M floats = 64 MiB per tensor

void set_threads() {
  if (!std::getenv("LOWBIT_NUM_THREADS")) lowbit::set_num_threads(2);
}

void BM_memcpy(benchmark::State& state) {
  set_threads();
  const size_t bytes = kN * sizeof(float);
  void* src = lowbit::cpu_alloc(bytes);
  void* dst = lowbit::cpu_alloc(bytes);
  std::memset(src, 1, bytes);
  std::memset(dst, 0, bytes);
  for (auto _ : state) {
    std::memcpy(dst, src, bytes);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * static_cast<int64_t>(bytes));
  lowbit::cpu_free(src, bytes);
  lowbit::cpu_free(dst, bytes);
}

// Same memcpy split over the OpenMP threads (what a parallel copy can reach).
void BM_memcpy_parallel(benchmark::State& state) {
  set_threads();
  const size_t bytes = kN * sizeof(float);
  char* src = static_cast<char*>(lowbit::cpu_alloc(bytes));
  char* dst = static_cast<char*>(lowbit::cpu_alloc(bytes));
  std::memset(src, 1, bytes);
  std::memset(dst, 0, bytes);
  const int64_t chunks = 64;
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) std::memcpy(dst + c * (bytes / chunks), src + c * (bytes / chunks), bytes / chunks);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * static_cast<int64_t>(bytes));
  lowbit::cpu_free(src, bytes);
  lowbit::cpu_free(dst, bytes);
}

// raw::add / raw::mul: allocates the result each call, as a user's code does.
template <lowbit::Tensor (*Op)(const lowbit::Tensor&, const lowbit::Tensor&)>
void BM_binary(benchmark::State& state) {
  set_threads();
  const lowbit::Tensor a = lowbit::uniform({kN}), b = lowbit::uniform({kN});
  for (auto _ : state) {
    lowbit::Tensor c = Op(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * 3 * kN * static_cast<int64_t>(sizeof(float)));
}

// In place (a += b): no allocation, the kernel alone.
template <void (*Op)(lowbit::Tensor&, const lowbit::Tensor&)>
void BM_binary_inplace(benchmark::State& state) {
  set_threads();
  lowbit::Tensor a = lowbit::uniform({kN});
  const lowbit::Tensor b = lowbit::full({kN}, 1.0);
  for (auto _ : state) {
    Op(a, b);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 3 * kN * static_cast<int64_t>(sizeof(float)));
}

// relu's backward on 16M floats: the one-pass grad mask against the gt + where it
// replaced (a b8 tensor written and read back, two passes). gy and y in [-1, 1), so
// half of the gradients pass.
lowbit::Tensor relu_backward_by_where(const lowbit::Tensor& gy, const lowbit::Tensor& y) {
  using namespace lowbit;
  return raw::where(raw::gt(y, scalar_tensor(0, y.dtype())), gy, scalar_tensor(0, gy.dtype()));
}
template <lowbit::Tensor (*Op)(const lowbit::Tensor&, const lowbit::Tensor&)>
void BM_relu_backward(benchmark::State& state) {
  set_threads();
  const lowbit::Tensor gy = lowbit::uniform({kN}, -1, 1), y = lowbit::uniform({kN}, -1, 1);
  for (auto _ : state) {
    lowbit::Tensor gx = Op(gy, y);
    benchmark::DoNotOptimize(gx.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * 3 * kN * static_cast<int64_t>(sizeof(float)));
}

BENCHMARK(BM_memcpy)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_memcpy_parallel)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_binary<lowbit::raw::add>)->Name("BM_add")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_binary<lowbit::raw::mul>)->Name("BM_mul")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_binary_inplace<lowbit::raw::add_>)->Name("BM_add_inplace")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_binary_inplace<lowbit::raw::mul_>)->Name("BM_mul_inplace")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_relu_backward<lowbit::raw::relu_backward>)
    ->Name("BM_relu_backward")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_relu_backward<relu_backward_by_where>)
    ->Name("BM_relu_backward_by_gt_where")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
