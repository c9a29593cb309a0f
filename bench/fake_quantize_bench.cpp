// fake_quantize_per_tensor_affine (forward, and its STE backward) on 1M and 16M floats
// next to the plain elementwise multiply of the same size (raw::mul, the binary kernel),
// all in one binary so the figures come from the same run (PERF.md: compare side by side).
// Target: fake quantization no slower than 1.5x the multiply.
//
//   build/release/bench/fake_quantize_bench --benchmark_min_time=0.5
// Threads: 2 unless LOWBIT_NUM_THREADS is set. Every op allocates its result, as a user's
// code does. Bytes counted: every byte read plus every byte written.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "quant/fake_quantize.h"
#include "tensor/config.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace {

using lowbit::Tensor;

void set_threads() {
  if (!std::getenv("LOWBIT_NUM_THREADS")) lowbit::set_num_threads(2);
}

// x in [-1, 1): int8 with s = 1/127 covers it, with some of it clamped (z = 3).
Tensor input(int64_t n) { return lowbit::uniform({n}, -1, 1); }

void BM_mul(benchmark::State& state) {  // a * b: 2 reads, 1 write
  set_threads();
  const int64_t n = state.range(0);
  const Tensor a = input(n), b = input(n);
  for (auto _ : state) {
    Tensor c = lowbit::raw::mul(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * 3 * n * static_cast<int64_t>(sizeof(float)));
}

void BM_mul_scalar(benchmark::State& state) {  // a * 0.5: 1 read, 1 write, like fake quant
  set_threads();
  const int64_t n = state.range(0);
  const Tensor a = input(n);
  for (auto _ : state) {
    Tensor c = lowbit::raw::mul(a, 0.5);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * 2 * n * static_cast<int64_t>(sizeof(float)));
}

template <bool kTflite>
void BM_fake_quantize(benchmark::State& state) {  // 1 read, 1 write
  set_threads();
  const int64_t n = state.range(0);
  const Tensor x = input(n);
  const lowbit::quant::NumericPolicy policy =
      kTflite ? lowbit::quant::NumericPolicy::tflite() : lowbit::quant::NumericPolicy::pytorch();
  for (auto _ : state) {
    Tensor y = lowbit::quant::fake_quantize_per_tensor_affine(x, 1.0 / 127, 3, -128, 127, policy);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * 2 * n * static_cast<int64_t>(sizeof(float)));
}

// The straight-through backward kernel, dx = dy * mask(x) (§3.2): 2 reads and 1 write,
// like a * b. Called directly (allocating dx, as the autograd function does), because a
// backward() into a leaf adds a copy of the gradient that is not the kernel's.
void BM_fake_quantize_backward(benchmark::State& state) {
  set_threads();
  const int64_t n = state.range(0);
  const Tensor x = input(n), dy = input(n);
  const Tensor s = lowbit::full({1}, 1.0 / 127), z = lowbit::full({1}, 3.0);
  lowbit::quant::FakeQuantizeParams p;  // per tensor, int8, pytorch policy
  p.inner = n;
  p.qmin = -128;
  p.qmax = 127;
  for (auto _ : state) {
    Tensor dx = lowbit::empty({n});
    lowbit::quant::fake_quantize_backward(lowbit::Device::cpu(), p, dx.data_ptr(), dy.data_ptr(), x.data_ptr(),
                                          s.data_ptr(), z.data_ptr());
    benchmark::DoNotOptimize(dx.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * 3 * n * static_cast<int64_t>(sizeof(float)));
}

// Registered size by size, so the figures of one size come from consecutive runs.
BENCHMARK(BM_mul)->Name("BM_mul")->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_mul_scalar)->Name("BM_mul_scalar")->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_fake_quantize<false>)
    ->Name("BM_fake_quantize_per_tensor")
    ->Arg(1 << 20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_fake_quantize<true>)
    ->Name("BM_fake_quantize_per_tensor_tflite")
    ->Arg(1 << 20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_fake_quantize_backward)
    ->Name("BM_fake_quantize_backward")
    ->Arg(1 << 20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_mul)->Name("BM_mul")->Arg(16 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_mul_scalar)->Name("BM_mul_scalar")->Arg(16 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_fake_quantize<false>)
    ->Name("BM_fake_quantize_per_tensor")
    ->Arg(16 << 20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_fake_quantize<true>)
    ->Name("BM_fake_quantize_per_tensor_tflite")
    ->Arg(16 << 20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_fake_quantize_backward)
    ->Name("BM_fake_quantize_backward")
    ->Arg(16 << 20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
