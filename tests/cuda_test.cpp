// CUDA backend against the CPU: transfers, the caching allocator, and every kernel family
// with a CUDA path (copy/fill, binary, unary, where, reduce, matmul, random).
//
// Every test starts with LOWBIT_REQUIRE_CUDA(), so without a GPU (or in a build without
// CUDA) the whole suite is reported as skipped. It uses only the public API, so it
// compiles and links in every build.
//
// What must agree bit for bit (NaN matches any NaN: CUDA arithmetic returns the canonical
// NaN 0x7fffffff where x86 returns its default NaN or the input's payload):
//   transfers, casts, fill, where; binary add sub mul div minimum maximum, the grad masks
//   relu_backward hardtanh_backward and the comparisons; unary neg abs sign relu floor
//   ceil round clamp sqrt rsqrt (single IEEE operations, correctly rounded on both);
//   integer and bool sums; max, min, aminmax and argmax (these pick an element, so NaN
//   payloads match too); uniform, randint and bernoulli draws.
// What agrees within a stated bound:
//   exp log tanh sigmoid pow    ulp distance (TranscendentalsWithinUlpBounds): the
//                               documented maximum error of CUDA's function plus that
//                               of the CPU's (Highway's polynomials, glibc for pow)
//   float sum, mean, var        the bound of tests/reduce_test.cpp (two f64
//                               accumulations in different orders)
//   matmul                      2 (k + 2) u (|a| |b|)_ij, u = 2^-24 (f32) or 2^-53 (f64)
//   normal                      1 ulp in f32, 8 ulp in f64
#include "tests/cuda_test_util.h"

namespace lowbit {
namespace {

using namespace cuda_test;
using test::bit_equal;
using test::random_tensor;

// ---- transfers and the caching allocator -------------------------------------------------

TEST(CudaMemory, RoundTripKeepsEveryBit) {
  LOWBIT_REQUIRE_CUDA();
  for (DType t : kAllDtypes) {
    const Tensor x = inputs(t, {37, 53}, 1);
    const Tensor g = x.to(kGpu);
    EXPECT_EQ(g.device(), kGpu);
    EXPECT_TRUE(bit_equal(x, g.cpu(), str_cat("to(cuda).to(cpu) ", dtype_name(t))));
  }
  const Tensor strided = test::random_strided({5, 7}, DType::f32, 2);
  EXPECT_TRUE(bit_equal(strided.contiguous(), strided.to(kGpu).cpu(), "strided source"));
  EXPECT_EQ(empty({0, 3}, DType::f32, kGpu).cpu().numel(), 0);
  EXPECT_EQ(scalar_tensor(2.5, DType::f64, kGpu).item(), 2.5);
  EXPECT_EQ(from_vector(std::vector<int32_t>{7, -8}, kGpu).to_vector<int32_t>(), (std::vector<int32_t>{7, -8}));
}

TEST(CudaMemory, FreedBlocksAreReused) {
  LOWBIT_REQUIRE_CUDA();
  const CudaMemoryStats s0 = cuda_memory_stats(0);
  { const Tensor a = empty({1000}, DType::f32, kGpu); }  // 4000 bytes; the block is cached when a dies
  const CudaMemoryStats s1 = cuda_memory_stats(0);
  { const Tensor b = empty({1000}, DType::f32, kGpu); }
  const CudaMemoryStats s2 = cuda_memory_stats(0);
  EXPECT_EQ(s2.num_allocs, s1.num_allocs + 1);
  EXPECT_EQ(s2.num_cache_hits, s1.num_cache_hits + 1) << "the same size again must come from the cache";
  EXPECT_EQ(s2.num_device_mallocs, s1.num_device_mallocs);
  EXPECT_EQ(s2.allocated_bytes, s0.allocated_bytes);
  EXPECT_GE(s2.peak_allocated_bytes, s0.allocated_bytes + 4000);
  EXPECT_GE(s2.reserved_bytes, s2.allocated_bytes + 4000);
}

TEST(CudaMemory, SteadyStateNeedsNoDeviceMalloc) {
  LOWBIT_REQUIRE_CUDA();
  const Tensor x = random_tensor({256, 1024}, DType::f32, 3).to(kGpu);
  auto step = [&] {
    const Tensor y = raw::mul(raw::add(x, x), x);
    const Tensor s = raw::sum(y, {1});
    const Tensor v = raw::var(y);  // a global two-pass reduction: workspaces too
    return raw::add(s, v);
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up fills the pool
  const CudaMemoryStats before = cuda_memory_stats(0);
  for (int i = 0; i < 10; ++i) step();
  const CudaMemoryStats after = cuda_memory_stats(0);
  EXPECT_EQ(after.num_device_mallocs, before.num_device_mallocs) << cuda_memory_summary(0);
  EXPECT_GT(after.num_cache_hits, before.num_cache_hits);
  EXPECT_EQ(after.num_cache_hits - before.num_cache_hits, after.num_allocs - before.num_allocs);
  EXPECT_EQ(after.allocated_bytes, before.allocated_bytes);
}

TEST(CudaMemory, EmptyCacheReturnsCachedBlocks) {
  LOWBIT_REQUIRE_CUDA();
  { const Tensor a = empty({1 << 20}, DType::f32, kGpu); }  // 4 MiB, cached afterwards
  const CudaMemoryStats before = cuda_memory_stats(0);
  EXPECT_GE(before.reserved_bytes, before.allocated_bytes + (4u << 20));
  cuda_empty_cache();
  const CudaMemoryStats after = cuda_memory_stats(0);
  EXPECT_EQ(after.reserved_bytes, after.allocated_bytes);
  EXPECT_GT(after.num_device_frees, before.num_device_frees);
  const std::string summary = cuda_memory_summary(0);
  EXPECT_NE(summary.find("cuda:0"), std::string::npos) << summary;
  EXPECT_NE(summary.find("cudaMalloc"), std::string::npos) << summary;
}

TEST(CudaMemory, Errors) {
  LOWBIT_REQUIRE_CUDA();
  EXPECT_LOWBIT_ERROR(empty({2}, DType::f32, Device::cuda(1000)), "cuda:1000 is not available");
  EXPECT_LOWBIT_ERROR(cuda_alloc(16, 1000), "cuda_alloc", "cuda:1000 is not available");
  EXPECT_LOWBIT_ERROR(cuda_memory_stats(-1), "cuda_memory_stats", "not available");
  EXPECT_LOWBIT_ERROR(raw::add(ones({2}), ones({2}, DType::f32, kGpu)), "add: inputs are on different devices");
}

// ---- copy, cast, fill ----------------------------------------------------------------

TEST(CudaCopy, CastsMatchCpuForEveryDtypePair) {
  LOWBIT_REQUIRE_CUDA();
  for (DType src : kAllDtypes) {
    const Tensor x = inputs(src, {13, 29}, 4, -300, 300);  // floats saturate and wrap in i8 / u8
    const Tensor g = x.to(kGpu);
    for (DType dst : kAllDtypes)
      EXPECT_TRUE(same_values(x.to(dst), g.to(dst).cpu(), str_cat("cast ", dtype_name(src), " -> ", dtype_name(dst))));
  }
}

TEST(CudaCopy, StridedViewsAndBroadcast) {
  LOWBIT_REQUIRE_CUDA();
  for (DType t : kAllDtypes) {
    const std::string name = dtype_name(t);
    const Tensor h = inputs(t, {6, 7, 9}, 5);
    const Tensor g = h.to(kGpu);
    // A permuted view made contiguous on the GPU: the general strided kernel.
    EXPECT_TRUE(same_values(h.permute({2, 0, 1}).contiguous(), g.permute({2, 0, 1}).contiguous().cpu(),
                            "permute + contiguous " + name));
    // Every third element: the 1-D kernel with a stride.
    EXPECT_TRUE(same_values(h.reshape({-1}).slice(0, 1, 378, 3).clone(), g.reshape({-1}).slice(0, 1, 378, 3).clone().cpu(),
                            "1-D slice " + name));
    // copy_ into a transposed destination from a broadcast row, with a cast to f64.
    Tensor dh = zeros({9, 6}, DType::f64), dg = zeros({9, 6}, DType::f64, kGpu);
    Tensor vh = dh.t(), vg = dg.t();  // [6, 9] views with strides (1, 6)
    vh.copy_(h.select(0, 2).select(0, 3));
    vg.copy_(g.select(0, 2).select(0, 3));
    EXPECT_TRUE(same_values(dh, dg.cpu(), "broadcast copy_ into a transposed view " + name));
  }
}

TEST(CudaCopy, FillMatchesCpu) {
  LOWBIT_REQUIRE_CUDA();
  for (DType t : kAllDtypes) {
    for (double v : {0.0, 2.5, -1.0, 300.0, -1e10, kNaN, kInf}) {
      EXPECT_TRUE(same_values(full({5, 7}, v, t), full({5, 7}, v, t, kGpu).cpu(),
                              str_cat("full ", v, " ", dtype_name(t))));
    }
    Tensor h = zeros({8, 10}, t), g = zeros({8, 10}, t, kGpu);
    h.slice(1, 0, 10, 3).fill_(7.5);
    g.slice(1, 0, 10, 3).fill_(7.5);
    EXPECT_TRUE(same_values(h, g.cpu(), str_cat("strided fill_ ", dtype_name(t))));
  }
}

// ---- elementwise -----------------------------------------------------------------------

// Operand layouts: same shape, per-channel broadcast, scalar, outer product, and
// transposed (non-contiguous) views on the GPU.
struct Layout {
  Shape a, b;
  bool transpose;  // use x.t() of [b, a]-shaped 2-D tensors
  const char* name;
};
const Layout kLayouts[] = {
    {{37, 53}, {37, 53}, false, "same shape"},
    {{4, 3, 5, 6}, {1, 3, 1, 1}, false, "per-channel broadcast"},
    {{1000}, {}, false, "scalar"},
    {{7, 1}, {1, 9}, false, "outer"},
    {{53, 37}, {53, 37}, true, "transposed views"},
};

// Runs fn on CPU and CUDA copies of the same operands and compares.
void check_binary(const char* name, const BinaryFn& fn, DType t) {
  uint64_t seed = 10;
  for (const Layout& l : kLayouts) {
    Tensor ah = inputs(t, l.a, seed++), bh = inputs(t, l.b, seed++);
    Tensor ag = ah.to(kGpu), bg = bh.to(kGpu);
    if (l.transpose) {
      ah = ah.t(), bh = bh.t(), ag = ag.t(), bg = bg.t();
    }
    EXPECT_TRUE(same_values(fn(ah, bh), fn(ag, bg).cpu(), str_cat(name, " ", dtype_name(t), " ", l.name)));
  }
}

TEST(CudaElementwise, BinaryMatchesCpuBitForBit) {
  LOWBIT_REQUIRE_CUDA();
  const std::pair<const char*, BinaryFn> arith[] = {
      {"add", [](const Tensor& a, const Tensor& b) { return raw::add(a, b); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return raw::sub(a, b); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return raw::mul(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return raw::minimum(a, b); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return raw::maximum(a, b); }},
      {"relu_backward", [](const Tensor& a, const Tensor& b) { return raw::relu_backward(a, b); }},
      {"hardtanh_backward", [](const Tensor& a, const Tensor& b) { return raw::hardtanh_backward(a, b, -1, 2); }},
  };
  const std::pair<const char*, BinaryFn> compare[] = {
      {"eq", [](const Tensor& a, const Tensor& b) { return raw::eq(a, b); }},
      {"ne", [](const Tensor& a, const Tensor& b) { return raw::ne(a, b); }},
      {"lt", [](const Tensor& a, const Tensor& b) { return raw::lt(a, b); }},
      {"le", [](const Tensor& a, const Tensor& b) { return raw::le(a, b); }},
      {"gt", [](const Tensor& a, const Tensor& b) { return raw::gt(a, b); }},
      {"ge", [](const Tensor& a, const Tensor& b) { return raw::ge(a, b); }},
  };
  for (DType t : kAllDtypes) {
    for (const auto& [name, fn] : compare) check_binary(name, fn, t);
    if (t == DType::b8) continue;  // no arithmetic on bool
    for (const auto& [name, fn] : arith) check_binary(name, fn, t);
    if (is_floating(t)) check_binary("div", [](const Tensor& a, const Tensor& b) { return raw::div(a, b); }, t);
  }
  // In place: a += b with a broadcast b.
  Tensor ah = inputs(DType::f32, {6, 8}, 20), bh = inputs(DType::f32, {8}, 21);
  Tensor ag = ah.to(kGpu), bg = bh.to(kGpu);
  raw::add_(ah, bh);
  raw::add_(ag, bg);
  EXPECT_TRUE(same_values(ah, ag.cpu(), "add_ in place"));
}

TEST(CudaElementwise, ExactUnaryOpsMatchCpuBitForBit) {
  LOWBIT_REQUIRE_CUDA();
  const std::pair<const char*, UnaryFn> any_dtype[] = {
      {"neg", [](const Tensor& x) { return raw::neg(x); }},
      {"abs", [](const Tensor& x) { return raw::abs(x); }},
      {"sign", [](const Tensor& x) { return raw::sign(x); }},
      {"relu", [](const Tensor& x) { return raw::relu(x); }},
      {"clamp(-1.25, 100)", [](const Tensor& x) { return raw::clamp(x, -1.25, 100); }},
      {"clamp(-1000, 50)", [](const Tensor& x) { return raw::clamp(x, -1000, 50); }},  // saturates in i8 / u8
  };
  const std::pair<const char*, UnaryFn> float_only[] = {
      {"floor", [](const Tensor& x) { return raw::floor(x); }},
      {"ceil", [](const Tensor& x) { return raw::ceil(x); }},
      {"round", [](const Tensor& x) { return raw::round(x); }},
      {"sqrt", [](const Tensor& x) { return raw::sqrt(x); }},
      {"rsqrt", [](const Tensor& x) { return raw::rsqrt(x); }},
  };
  for (DType t : kAllDtypes) {
    if (t == DType::b8) continue;  // unary ops reject bool
    const Tensor h = inputs(t, {61, 67}, 30);
    const Tensor g = h.to(kGpu), gt = h.t().to(kGpu).t();  // gt: same values, transposed storage
    for (const auto& [name, fn] : any_dtype) {
      EXPECT_TRUE(same_values(fn(h), fn(g).cpu(), str_cat(name, " ", dtype_name(t))));
      EXPECT_TRUE(same_values(fn(h), fn(gt).cpu(), str_cat(name, " ", dtype_name(t), " strided")));
    }
    if (!is_floating(t)) continue;
    for (const auto& [name, fn] : float_only) {
      EXPECT_TRUE(same_values(fn(h), fn(g).cpu(), str_cat(name, " ", dtype_name(t))));
      EXPECT_TRUE(same_values(fn(h), fn(gt).cpu(), str_cat(name, " ", dtype_name(t), " strided")));
    }
  }
}

// Largest ulp distance allowed between CPU and CUDA: CUDA's documented maximum error
// (CUDA Programming Guide, "Mathematical Functions": expf 2, logf 1, tanhf 2, powf 4;
// double exp, log, tanh 1, pow 2) plus the CPU's (unary_cpu.cpp: Highway exp 1, log 4,
// tanh 4; pow is glibc's, under 1), rounded up; sigmoid adds the rounding of 1 + exp(-x).
struct UlpBound {
  const char* name;
  UnaryFn fn;
  double lo, hi;  // input range
  uint64_t f32, f64;
};

TEST(CudaElementwise, TranscendentalsWithinUlpBounds) {
  LOWBIT_REQUIRE_CUDA();
  const UlpBound cases[] = {
      {"exp", [](const Tensor& x) { return raw::exp(x); }, -20, 20, 4, 3},
      {"log", [](const Tensor& x) { return raw::log(x); }, 0, 100, 6, 6},
      {"tanh", [](const Tensor& x) { return raw::tanh(x); }, -6, 6, 7, 6},
      {"sigmoid", [](const Tensor& x) { return raw::sigmoid(x); }, -20, 20, 8, 6},
      {"pow 2.5", [](const Tensor& x) { return raw::pow(x, 2.5); }, 0, 8, 6, 4},
      {"pow -1.5", [](const Tensor& x) { return raw::pow(x, -1.5); }, 0, 8, 6, 4},
      {"pow 3", [](const Tensor& x) { return raw::pow(x, 3); }, -8, 8, 6, 4},
      {"pow 0.5", [](const Tensor& x) { return raw::pow(x, 0.5); }, 0, 8, 6, 4},
  };
  for (const UlpBound& c : cases) {
    for (DType t : kFloatDtypes) {
      const Tensor h = random_tensor({100, 103}, t, 40, c.lo, c.hi);
      const uint64_t bound = t == DType::f32 ? c.f32 : c.f64;
      EXPECT_TRUE(within_ulp(c.fn(h), c.fn(h.to(kGpu)).cpu(), bound, str_cat(c.name, " ", dtype_name(t))));
      // The C99 / IEEE special cases (NaN, +-inf, +-0) give the same values on both (the
      // sign of a zero result may differ: 0 ulp apart).
      const Tensor s = from_vector(std::vector<double>{kNaN, kInf, -kInf, 0.0, -0.0}).to(t);
      EXPECT_TRUE(within_ulp(c.fn(s), c.fn(s.to(kGpu)).cpu(), 0, str_cat(c.name, " ", dtype_name(t), " special values")));
    }
  }
}

TEST(CudaElementwise, WhereMatchesCpu) {
  LOWBIT_REQUIRE_CUDA();
  for (DType t : kAllDtypes) {
    const Tensor ch = random_tensor({6, 1, 5}, DType::b8, 50), ah = inputs(t, {6, 4, 5}, 51), bh = inputs(t, {}, 52);
    EXPECT_TRUE(same_values(raw::where(ch, ah, bh), raw::where(ch.to(kGpu), ah.to(kGpu), bh.to(kGpu)).cpu(),
                            str_cat("where broadcast ", dtype_name(t))));
    const Tensor c2 = random_tensor({300}, DType::b8, 53), a2 = inputs(t, {300}, 54), b2 = inputs(t, {300}, 55);
    EXPECT_TRUE(same_values(raw::where(c2, a2, b2), raw::where(c2.to(kGpu), a2.to(kGpu), b2.to(kGpu)).cpu(),
                            str_cat("where 1-D ", dtype_name(t))));
    const Tensor c3 = random_tensor({9, 11}, DType::b8, 56), a3 = inputs(t, {9, 11}, 57), b3 = inputs(t, {9, 11}, 58);
    EXPECT_TRUE(same_values(raw::where(c3.t(), a3.t(), b3.t()),
                            raw::where(c3.to(kGpu).t(), a3.to(kGpu).t(), b3.to(kGpu).t()).cpu(),
                            str_cat("where transposed ", dtype_name(t))));
  }
}

}  // namespace
}  // namespace lowbit
