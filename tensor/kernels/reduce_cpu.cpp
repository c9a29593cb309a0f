// reduce on the CPU: Highway SIMD (dynamic dispatch) for f32/f64, plain loops for the
// integer dtypes and for argmax, OpenMP across cores for all of them.
//
// Two layouts of the [outer, reduce, inner] input:
//   rows     inner == 1: each output reduces a contiguous row. A row is cut into blocks
//            of kRowBlock elements; the blocks of all rows are the parallel work items,
//            and each row's block partials are then combined in block order.
//   columns  inner > 1: each output reduces a strided column. Columns are cut into
//            chunks of kColChunk, rows into blocks of kColRows; a work item walks its
//            block row by row, vectorized across the chunk's columns, into per-column
//            partials that are then combined in block order.
// The blocking depends only on the shape, so the order of every floating-point
// operation, and hence every bit of the result, is the same for any thread count.
//
// Numerics against ref:: (reduce_ref.cpp):
//   - sum/mean/var accumulate in double in a different order than the sequential
//     reference (16 interleaved partial sums per row block, see RowSum), so they differ
//     by rounding only: both are double sums of the same terms, each within
//     (reduce - 1) * 2^-53 * sum|terms| of the exact sum, then rounded once to the dtype.
//     Column sums with reduce <= kColRows add each column in the reference's own order
//     and are bit-identical to it.
//   - max/min/aminmax/argmax are exact: they compare order-preserving integer keys
//     (float_key below), in which -0 < +0 as in the reference; a row or column holding
//     a NaN is rescanned to return the first NaN, as the reference does.
// The 16-lane blocking is the same on every SIMD target (SSE4, AVX2, AVX-512), so the
// results do not depend on the machine either.

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/kernels/reduce_cpu.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format on

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/cpu_sum.h"
#include "tensor/kernels/reduce.h"

// Scalar helpers shared by every SIMD target and the driver (compiled once).
#ifndef LOWBIT_REDUCE_CPU_SHARED
#define LOWBIT_REDUCE_CPU_SHARED
namespace lowbit::cpu {
namespace {

// Key type compared by max/min/argmax: a signed integer of the float's width, or the
// integer dtype itself.
template <typename T>
using KeyOf = std::conditional_t<std::is_same_v<T, float>, int32_t,
                                 std::conditional_t<std::is_same_v<T, double>, int64_t, T>>;

// Order-preserving key of a float: non-negative floats keep their bits; negative ones
// flip the magnitude bits, so larger magnitudes give smaller keys. Integer order on keys
// is float order with -0 < +0, and every NaN lands outside [key(-inf), key(+inf)].
// The map is its own inverse.
template <typename K>
constexpr K flip_negative(K bits) {
  return bits ^ ((bits >> (8 * sizeof(K) - 1)) & std::numeric_limits<K>::max());
}
template <typename T>
KeyOf<T> float_key(T v) { return flip_negative(std::bit_cast<KeyOf<T>>(v)); }
template <typename T>
T key_float(KeyOf<T> k) { return std::bit_cast<T>(flip_negative(k)); }

}  // namespace
}  // namespace lowbit::cpu
#endif  // LOWBIT_REDUCE_CPU_SHARED

HWY_BEFORE_NAMESPACE();
namespace lowbit::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace {  // the helpers; the exported entry points follow below

using DD = hn::ScalableTag<double>;

// N consecutive values at p as doubles (f32 widened exactly).
HWY_INLINE hn::Vec<DD> load_f64(DD dd, const float* HWY_RESTRICT p) {
  const hn::Rebind<float, DD> df;
  return hn::PromoteTo(dd, hn::LoadU(df, p));
}
HWY_INLINE hn::Vec<DD> load_f64(DD dd, const double* HWY_RESTRICT p) { return hn::LoadU(dd, p); }

// s = sum over i of v_i, v_i = double(x[i]), or (v_i - *mean)^2 when mean is given.
// Element i goes to partial sum i % 16 and the 16 are folded by fold16(). The 16 live
// in 16/N vectors of N lanes (N = 2, 4 or 8), and the scalar tail adds its elements to
// the same partials, so the order of the additions is the same on every target.
template <typename T>
HWY_INLINE double RowSum(const T* HWY_RESTRICT x, int64_t n, const double* mean) {
  const DD dd;
  constexpr int64_t N = static_cast<int64_t>(hn::MaxLanes(DD()));
  constexpr int64_t K = kSumLanes / N;
  hn::Vec<DD> acc[K];
#pragma GCC unroll 16
  for (int64_t k = 0; k < K; ++k) acc[k] = hn::Zero(dd);
  int64_t i = 0;
  if (mean == nullptr) {
    for (; i + kSumLanes <= n; i += kSumLanes) {
#pragma GCC unroll 16
      for (int64_t k = 0; k < K; ++k) acc[k] = hn::Add(acc[k], load_f64(dd, x + i + k * N));
    }
  } else {
    const auto m = hn::Set(dd, *mean);
    for (; i + kSumLanes <= n; i += kSumLanes) {
#pragma GCC unroll 16
      for (int64_t k = 0; k < K; ++k) {
        const auto d = hn::Sub(load_f64(dd, x + i + k * N), m);
        acc[k] = hn::Add(acc[k], hn::Mul(d, d));
      }
    }
  }
  HWY_ALIGN double lanes[kSumLanes];
#pragma GCC unroll 16
  for (int64_t k = 0; k < K; ++k) hn::Store(acc[k], dd, lanes + k * N);
  for (; i < n; ++i) {  // tail: the same operations, one lane at a time
    double v = static_cast<double>(x[i]);
    if (mean != nullptr) {
      v = v - *mean;
      v = v * v;
    }
    lanes[i % kSumLanes] += v;
  }
  return fold16(lanes);
}

// acc[j] += v_j for each of K rows x + k*stride, j in [0, w), in row order (as the
// reference adds); v_j = double(x[j]) or (double(x[j]) - mean[j])^2. Taking K rows per
// pass loads and stores acc once per K additions.
template <int K, typename T>
HWY_INLINE void ColSumRows(double* HWY_RESTRICT acc, const T* HWY_RESTRICT x, int64_t stride, int64_t w,
                           const double* HWY_RESTRICT mean) {
  const DD dd;
  const int64_t N = static_cast<int64_t>(hn::Lanes(dd));
  int64_t j = 0;
  for (; j + N <= w; j += N) {
    auto a = hn::LoadU(dd, acc + j);
    const auto m = mean ? hn::LoadU(dd, mean + j) : hn::Zero(dd);
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) {
      auto v = load_f64(dd, x + k * stride + j);
      if (mean != nullptr) {
        v = hn::Sub(v, m);
        v = hn::Mul(v, v);
      }
      a = hn::Add(a, v);
    }
    hn::StoreU(a, dd, acc + j);
  }
  for (; j < w; ++j) {  // tail: the same operations, one column at a time
    for (int k = 0; k < K; ++k) {
      double v = static_cast<double>(x[k * stride + j]);
      if (mean != nullptr) {
        v = v - mean[j];
        v = v * v;
      }
      acc[j] += v;
    }
  }
}

// ColSumRows over `rows` rows, four at a time.
template <typename T>
HWY_INLINE void ColSum(double* HWY_RESTRICT acc, const T* HWY_RESTRICT x, int64_t rows, int64_t stride, int64_t w,
                       const double* HWY_RESTRICT mean) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) ColSumRows<4>(acc, x + r * stride, stride, w, mean);
  for (; r < rows; ++r) ColSumRows<1>(acc, x + r * stride, stride, w, mean);
}

// SIMD float_key(): flip the magnitude bits where the sign bit is set. Three integer
// ops per vector, after which min and max are single exact integer instructions that
// need no special case for NaN or signed zeros (a float Max would return whichever
// operand the instruction prefers for -0 vs +0, and drop NaNs in one operand order).
// A NaN key falls outside [key(-inf), key(+inf)], so aminmax detects NaN for free.
template <class DI, class V>
HWY_INLINE hn::Vec<DI> keys(DI di, V v) {
  const auto bits = hn::BitCast(di, v);
  return hn::Xor(bits, hn::And(hn::BroadcastSignBit(bits), hn::Set(di, hwy::LimitsMax<hn::TFromD<DI>>())));
}

// *lo / *hi = the smallest / largest key of x[0, n), n >= 1. Integer min/max are
// exact, so the lane order does not matter.
template <typename T>
HWY_INLINE void RowMinMax(const T* HWY_RESTRICT x, int64_t n, KeyOf<T>* lo, KeyOf<T>* hi) {
  const hn::ScalableTag<T> d;
  const hn::RebindToSigned<decltype(d)> di;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  auto lo0 = hn::Set(di, hwy::LimitsMax<KeyOf<T>>()), lo1 = lo0;
  auto hi0 = hn::Set(di, hwy::LimitsMin<KeyOf<T>>()), hi1 = hi0;
  int64_t i = 0;
  // Two independent chains of min/max, so that two loads per cycle can be in flight.
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto k0 = keys(di, hn::LoadU(d, x + i)), k1 = keys(di, hn::LoadU(d, x + i + N));
    lo0 = hn::Min(lo0, k0);
    hi0 = hn::Max(hi0, k0);
    lo1 = hn::Min(lo1, k1);
    hi1 = hn::Max(hi1, k1);
  }
  KeyOf<T> l = hn::GetLane(hn::MinOfLanes(di, hn::Min(lo0, lo1)));
  KeyOf<T> h = hn::GetLane(hn::MaxOfLanes(di, hn::Max(hi0, hi1)));
  for (; i < n; ++i) {
    const KeyOf<T> k = float_key(x[i]);
    l = k < l ? k : l;
    h = k > h ? k : h;
  }
  *lo = l;
  *hi = h;
}

// lo[j] / hi[j] = min / max of themselves and the keys of x[k*stride + j], k < K.
template <int K, typename T>
HWY_INLINE void ColMinMaxRows(KeyOf<T>* HWY_RESTRICT lo, KeyOf<T>* HWY_RESTRICT hi, const T* HWY_RESTRICT x,
                              int64_t stride, int64_t w) {
  const hn::ScalableTag<T> d;
  const hn::RebindToSigned<decltype(d)> di;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  int64_t j = 0;
  for (; j + N <= w; j += N) {
    auto l = hn::LoadU(di, lo + j), h = hn::LoadU(di, hi + j);
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) {
      const auto key = keys(di, hn::LoadU(d, x + k * stride + j));
      l = hn::Min(l, key);
      h = hn::Max(h, key);
    }
    hn::StoreU(l, di, lo + j);
    hn::StoreU(h, di, hi + j);
  }
  for (; j < w; ++j) {
    for (int k = 0; k < K; ++k) {
      const KeyOf<T> key = float_key(x[k * stride + j]);
      lo[j] = key < lo[j] ? key : lo[j];
      hi[j] = key > hi[j] ? key : hi[j];
    }
  }
}

// ColMinMaxRows over `rows` rows, four at a time.
template <typename T>
HWY_INLINE void ColMinMax(KeyOf<T>* HWY_RESTRICT lo, KeyOf<T>* HWY_RESTRICT hi, const T* HWY_RESTRICT x,
                          int64_t rows, int64_t stride, int64_t w) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) ColMinMaxRows<4>(lo, hi, x + r * stride, stride, w);
  for (; r < rows; ++r) ColMinMaxRows<1>(lo, hi, x + r * stride, stride, w);
}

}  // namespace

// Non-template entry points for HWY_EXPORT (one per element type).
// f32 sums: RowSum/ColSum widen to double before adding, as the reference does.
double RowSumF32(const float* x, int64_t n, const double* mean) { return RowSum(x, n, mean); }
double RowSumF64(const double* x, int64_t n, const double* mean) { return RowSum(x, n, mean); }
void ColSumF32(double* acc, const float* x, int64_t rows, int64_t stride, int64_t w, const double* mean) {
  ColSum(acc, x, rows, stride, w, mean);
}
void ColSumF64(double* acc, const double* x, int64_t rows, int64_t stride, int64_t w, const double* mean) {
  ColSum(acc, x, rows, stride, w, mean);
}
void RowMinMaxF32(const float* x, int64_t n, int32_t* lo, int32_t* hi) { RowMinMax(x, n, lo, hi); }
void RowMinMaxF64(const double* x, int64_t n, int64_t* lo, int64_t* hi) { RowMinMax(x, n, lo, hi); }
void ColMinMaxF32(int32_t* lo, int32_t* hi, const float* x, int64_t rows, int64_t stride, int64_t w) {
  ColMinMax(lo, hi, x, rows, stride, w);
}
void ColMinMaxF64(int64_t* lo, int64_t* hi, const double* x, int64_t rows, int64_t stride, int64_t w) {
  ColMinMax(lo, hi, x, rows, stride, w);
}

}  // namespace lowbit::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lowbit::cpu {

HWY_EXPORT(RowSumF32);
HWY_EXPORT(RowSumF64);

double row_sum(const float* x, int64_t n, const double* mean) { return HWY_DYNAMIC_DISPATCH(RowSumF32)(x, n, mean); }
double row_sum(const double* x, int64_t n, const double* mean) { return HWY_DYNAMIC_DISPATCH(RowSumF64)(x, n, mean); }
HWY_EXPORT(ColSumF32);
HWY_EXPORT(ColSumF64);
HWY_EXPORT(RowMinMaxF32);
HWY_EXPORT(RowMinMaxF64);
HWY_EXPORT(ColMinMaxF32);
HWY_EXPORT(ColMinMaxF64);

namespace {

// Fixed blocking (never a function of the thread count). Row blocks are small enough to
// balance two threads on a 1M-element row (128 blocks) and large enough that combining
// partials costs nothing. Column chunks are whole rows of typical widths, so each row
// is one long sequential read (512-column chunks ran ~1.7x slower on [4096,4096]),
// and 1024-row blocks keep the partials at 1/1024 of the input.
constexpr int64_t kRowBlock = 8192;       // row layout: elements per block (32 KiB of f32)
constexpr int64_t kColRows = 1024;        // column layout: rows per block ...
constexpr int64_t kColChunk = 2048;       // ... and columns per work item (8 KiB of f32)
constexpr int64_t kParallelWork = 32768;  // fewer elements than this stay on one thread

template <typename T>
constexpr bool kFloat = std::is_floating_point_v<T>;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// fn(i) for i in [0, n), split statically over the OpenMP threads when `work` (the
// number of elements touched) is worth a parallel region. Which thread runs an item
// never changes what the item computes.
template <typename Fn>
void parallel_for(int64_t n, int64_t work, Fn&& fn) {
#pragma omp parallel for schedule(static) if (work >= kParallelWork)
  for (int64_t i = 0; i < n; ++i) fn(i);
}

// ---- the work split, shared by every op ----
// The reduced dim is cut into nb blocks (kRowBlock elements for rows, kColRows rows for
// columns). Output i = (o, j) gets one partial result per block, stored at
// parts[(o*nb + b)*inner + j]; the partials are then combined in block order.
//   block(o, r0, rows, j0, w, dst): reduce rows [r0, r0+rows) of columns [j0, j0+w)
//                                   of slice o into dst[0, w)  (rows layout: w = 1)
//   combine(total, next):           total = total (+) next, next from the later block
//   write(i, total):                store output i
template <typename Part, typename BlockFn, typename CombineFn, typename WriteFn>
void reduce_blocks(const ReduceParams& p, BlockFn&& block, CombineFn&& combine, WriteFn&& write) {
  const bool rows = p.inner == 1;
  const int64_t step = rows ? kRowBlock : kColRows, width = rows ? 1 : kColChunk;
  const int64_t nb = std::max<int64_t>(1, ceil_div(p.reduce, step)), nc = ceil_div(p.inner, width);
  std::vector<Part> parts(static_cast<size_t>(p.outer * nb * p.inner));
  parallel_for(p.outer * nc * nb, p.outer * p.reduce * p.inner, [&](int64_t item) {
    const int64_t b = item % nb, c = (item / nb) % nc, o = item / (nb * nc);
    const int64_t r0 = b * step, j0 = c * width;
    block(o, r0, std::min(step, p.reduce - r0), j0, std::min(width, p.inner - j0), &parts[(o * nb + b) * p.inner + j0]);
  });
  parallel_for(p.outer * p.inner, p.outer * p.inner * nb, [&](int64_t i) {
    const Part* part = &parts[(i / p.inner) * nb * p.inner + i % p.inner];  // block 0 of output i
    Part total = part[0];
    for (int64_t b = 1; b < nb; ++b) combine(total, part[b * p.inner]);
    write(i, total);
  });
}

// ---- sum, mean, var ----

// Accumulator: double for floats, wrapping uint64 for integers and bool.
template <typename T>
using AccOf = std::conditional_t<kFloat<T>, double, uint64_t>;

// Calls write(i, s) for every output i = o*inner + j, with s the sum over r of
// v = x[o, r, j], or of (v - mean[i])^2 when mean is given.
template <typename T, typename WriteFn>
void accumulate(const ReduceParams& p, const T* x, const double* mean, WriteFn&& write) {
  using Acc = AccOf<T>;
  auto block = [&](int64_t o, int64_t r0, int64_t rows, int64_t j0, int64_t w, Acc* dst) {
    const T* src = x + (o * p.reduce + r0) * p.inner + j0;
    const double* m = mean ? mean + o * p.inner + j0 : nullptr;
    std::fill(dst, dst + w, Acc{0});
    if constexpr (std::is_same_v<T, float>) {
      if (p.inner == 1) dst[0] = HWY_DYNAMIC_DISPATCH(RowSumF32)(src, rows, m);
      else HWY_DYNAMIC_DISPATCH(ColSumF32)(dst, src, rows, p.inner, w, m);
    } else if constexpr (std::is_same_v<T, double>) {
      if (p.inner == 1) dst[0] = HWY_DYNAMIC_DISPATCH(RowSumF64)(src, rows, m);
      else HWY_DYNAMIC_DISPATCH(ColSumF64)(dst, src, rows, p.inner, w, m);
    } else {  // integers: wrap-around sums, any order gives the same result
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < w; ++j) dst[j] += static_cast<uint64_t>(static_cast<int64_t>(src[r * p.inner + j]));
    }
  };
  reduce_blocks<Acc>(p, block, [](Acc& s, Acc next) { s += next; }, write);
}

// sum (any dtype), mean and var (f32/f64): the formulas of reduce_ref.cpp on these sums.
template <typename T>
void sum_mean_var(const ReduceParams& p, const T* x, void* out) {
  if constexpr (!kFloat<T>) {
    LOWBIT_CHECK(p.op == ReduceOp::sum, "reduce: ", reduce_op_name(p.op), " needs f32 or f64, got ",
                 dtype_name(p.dtype));
    int64_t* y = static_cast<int64_t*>(out);
    accumulate(p, x, nullptr, [&](int64_t i, uint64_t s) { y[i] = static_cast<int64_t>(s); });
  } else {
    T* y = static_cast<T*>(out);
    const double n = static_cast<double>(p.reduce);
    if (p.op != ReduceOp::var) {
      const bool is_sum = p.op == ReduceOp::sum;
      accumulate(p, x, nullptr, [&](int64_t i, double s) { y[i] = static_cast<T>(is_sum ? s : s / n); });
      return;
    }
    // var: pass 1 computes the means, pass 2 the squared deviations from them.
    std::vector<double> mean(static_cast<size_t>(p.outer * p.inner));
    accumulate(p, x, nullptr, [&](int64_t i, double s) { mean[i] = s / n; });
    const double dof = static_cast<double>(std::max<int64_t>(p.reduce - p.correction, 0));
    accumulate(p, x, mean.data(), [&](int64_t i, double q) { y[i] = static_cast<T>(q / dof); });
  }
}

// ---- max, min, aminmax ----

// The key of a value (floats: float_key; integers: the value itself) and back.
template <typename T>
KeyOf<T> to_key(T v) {
  if constexpr (kFloat<T>) return float_key(v);
  else return v;
}
template <typename T>
T from_key(KeyOf<T> k) {
  if constexpr (kFloat<T>) return key_float<T>(k);
  else return k;
}

// Partial result of max/min: the extreme keys of a block (the identity by default).
template <typename T>
struct MinMax {
  KeyOf<T> lo = std::numeric_limits<KeyOf<T>>::max();
  KeyOf<T> hi = std::numeric_limits<KeyOf<T>>::lowest();
};

// True when [lo, hi] holds the key of a NaN (they lie outside the keys of -inf..+inf).
template <typename T>
bool has_nan(MinMax<T> m) {
  if constexpr (kFloat<T>) {
    const T inf = std::numeric_limits<T>::infinity();
    return m.lo < float_key(-inf) || m.hi > float_key(inf);
  } else {
    return false;
  }
}

// max, min and aminmax share one pass: each block yields the smallest and largest key.
// out is [outer, inner]; out2 (aminmax's max) too.
template <typename T>
void minmax(const ReduceParams& p, const T* x, T* out, T* out2) {
  auto block = [&](int64_t o, int64_t r0, int64_t rows, int64_t j0, int64_t w, MinMax<T>* dst) {
    const T* src = x + (o * p.reduce + r0) * p.inner + j0;
    KeyOf<T> lo[kColChunk], hi[kColChunk];  // w <= kColChunk
    std::fill(lo, lo + w, MinMax<T>().lo);
    std::fill(hi, hi + w, MinMax<T>().hi);
    if constexpr (std::is_same_v<T, float>) {
      if (p.inner == 1) HWY_DYNAMIC_DISPATCH(RowMinMaxF32)(src, rows, lo, hi);
      else HWY_DYNAMIC_DISPATCH(ColMinMaxF32)(lo, hi, src, rows, p.inner, w);
    } else if constexpr (std::is_same_v<T, double>) {
      if (p.inner == 1) HWY_DYNAMIC_DISPATCH(RowMinMaxF64)(src, rows, lo, hi);
      else HWY_DYNAMIC_DISPATCH(ColMinMaxF64)(lo, hi, src, rows, p.inner, w);
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t j = 0; j < w; ++j) {
          lo[j] = std::min(lo[j], src[r * p.inner + j]);
          hi[j] = std::max(hi[j], src[r * p.inner + j]);
        }
      }
    }
    for (int64_t j = 0; j < w; ++j) dst[j] = {lo[j], hi[j]};
  };
  auto combine = [](MinMax<T>& m, MinMax<T> next) {
    m.lo = std::min(m.lo, next.lo);
    m.hi = std::max(m.hi, next.hi);
  };
  auto write = [&](int64_t i, MinMax<T> m) {
    T lo = from_key<T>(m.lo), hi = from_key<T>(m.hi);
    if (has_nan(m)) {  // rare: rescan for the first NaN, the reference's answer
      const T* col = x + (i / p.inner) * p.reduce * p.inner + i % p.inner;
      for (int64_t r = 0; r < p.reduce; ++r) {
        if (col[r * p.inner] != col[r * p.inner]) {
          lo = hi = col[r * p.inner];
          break;
        }
      }
    }
    if (p.op == ReduceOp::max) out[i] = hi;
    if (p.op == ReduceOp::min) out[i] = lo;
    if (p.op == ReduceOp::aminmax) {
      out[i] = lo;
      out2[i] = hi;
    }
  };
  reduce_blocks<MinMax<T>>(p, block, combine, write);
}

// ---- argmax (scalar loops on keys, on OpenMP threads) ----

// Key for argmax: the max/min key, with every NaN above all numbers so that the first
// NaN wins. Strict > keeps the first of equal keys.
template <typename T>
KeyOf<T> arg_key(T v) {
  if constexpr (kFloat<T>) {
    if (v != v) return std::numeric_limits<KeyOf<T>>::max();
  }
  return to_key(v);
}

// Partial result of argmax: the largest arg_key of a block and where it first occurs.
template <typename T>
struct Best {
  KeyOf<T> key;
  int64_t index;
};

// Each block keeps its best key and the first index holding it; combining blocks in
// order with strict > keeps the earliest. (Scalar: argmax is mostly taken over short
// rows of logits; 16M floats take ~6x as long as aminmax, see reduce_bench.)
template <typename T>
void argmax(const ReduceParams& p, const T* x, int64_t* out) {
  auto block = [&](int64_t o, int64_t r0, int64_t rows, int64_t j0, int64_t w, Best<T>* dst) {
    const T* src = x + (o * p.reduce + r0) * p.inner + j0;
    if constexpr (kFloat<T>) {
      if (p.inner == 1) {  // f32/f64 row: the SIMD max first, then its first occurrence
        MinMax<T> m;
        if constexpr (std::is_same_v<T, float>) HWY_DYNAMIC_DISPATCH(RowMinMaxF32)(src, rows, &m.lo, &m.hi);
        else HWY_DYNAMIC_DISPATCH(RowMinMaxF64)(src, rows, &m.lo, &m.hi);
        const bool nan = has_nan(m);
        const KeyOf<T> bits = std::bit_cast<KeyOf<T>>(key_float<T>(m.hi));  // the max, bit for bit
        int64_t r = 0;
        while (nan ? src[r] == src[r] : std::bit_cast<KeyOf<T>>(src[r]) != bits) ++r;
        dst[0] = {nan ? std::numeric_limits<KeyOf<T>>::max() : m.hi, r0 + r};
        return;
      }
    }
    if (p.inner == 1) {  // integer row: keep the best in registers
      Best<T> best{arg_key(src[0]), r0};
      for (int64_t r = 1; r < rows; ++r) {
        const KeyOf<T> k = arg_key(src[r]);
        if (k > best.key) best = {k, r0 + r};
      }
      dst[0] = best;
      return;
    }
    for (int64_t j = 0; j < w; ++j) dst[j] = {arg_key(src[j]), r0};
    for (int64_t r = 1; r < rows; ++r) {
      for (int64_t j = 0; j < w; ++j) {
        const KeyOf<T> k = arg_key(src[r * p.inner + j]);
        if (k > dst[j].key) dst[j] = {k, r0 + r};
      }
    }
  };
  auto combine = [](Best<T>& b, Best<T> next) {
    if (next.key > b.key) b = next;
  };
  reduce_blocks<Best<T>>(p, block, combine, [&](int64_t i, Best<T> b) { out[i] = b.index; });
}

}  // namespace

void reduce(const ReduceParams& p, const void* in, void* out, void* out2) {
  const bool needs_elements = p.op == ReduceOp::max || p.op == ReduceOp::min || p.op == ReduceOp::argmax ||
                              p.op == ReduceOp::aminmax;
  LOWBIT_CHECK(p.reduce > 0 || !needs_elements || p.outer * p.inner == 0, "reduce: ", reduce_op_name(p.op),
               " over zero elements has no result");
  if (p.outer * p.inner == 0) return;
  // Nothing to read when reduce == 0: view it as outer*inner empty rows (no pointer
  // arithmetic on a possibly null input).
  ReduceParams q = p;
  if (q.reduce == 0) {
    q.outer *= q.inner;
    q.inner = 1;
  }
  switch_dtype(q.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(in);
    switch (q.op) {
      case ReduceOp::sum:
      case ReduceOp::mean:
      case ReduceOp::var: return sum_mean_var(q, x, out);
      case ReduceOp::max:
      case ReduceOp::min:
      case ReduceOp::aminmax: return minmax(q, x, static_cast<T*>(out), static_cast<T*>(out2));
      case ReduceOp::argmax: return argmax(q, x, static_cast<int64_t*>(out));
    }
  });
}

}  // namespace lowbit::cpu
#endif  // HWY_ONCE
