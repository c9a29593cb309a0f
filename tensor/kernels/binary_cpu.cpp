// binary on the CPU. Rows along the innermost dim run on OpenMP threads (cpu_loops.h).
// f32/f64 arithmetic and grad-mask rows whose operands are contiguous or broadcast
// scalars (inner stride 1 or 0) use Highway SIMD with dynamic dispatch; everything else
// (integers, comparisons, strided rows) is a scalar loop over the shared formula in binary.h.
//
// The SIMD lanes compute the same IEEE operation as the reference (one add, sub, mul or
// div per element, no FMA, no reassociation), so results are bit-identical to ref::,
// up to which NaN comes out of NaN op NaN (the compiler may swap commutative operands,
// and IEEE leaves the payload of the result to the hardware). Grad masks only select
// (a's bits or +0), so they are bit-identical, NaN payloads included.

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/kernels/binary_cpu.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format on
#include <hwy/cache_control.h>

#include "tensor/kernels/binary.h"
#include "tensor/kernels/cpu_loops.h"
#include "tensor/kernels/dtype_switch.h"

HWY_BEFORE_NAMESPACE();
namespace lowbit::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One SIMD op; NaN handling of minimum/maximum mirrors binary_arith(), the grad masks
// mirror binary_grad_mask() (ordered comparisons: false for NaN, so a NaN b gives +0).
// lo, hi are the hardtanh_backward bounds, unused by the other ops.
template <BinaryOp kOp, class D, class V>
HWY_INLINE V apply(D d, V a, V b, V lo, V hi) {
  if constexpr (kOp == BinaryOp::add) return hn::Add(a, b);
  if constexpr (kOp == BinaryOp::sub) return hn::Sub(a, b);
  if constexpr (kOp == BinaryOp::mul) return hn::Mul(a, b);
  if constexpr (kOp == BinaryOp::div) return hn::Div(a, b);
  if constexpr (kOp == BinaryOp::minimum)
    return hn::IfThenElse(hn::IsNaN(a), a, hn::IfThenElse(hn::IsNaN(b), b, hn::IfThenElse(hn::Lt(a, b), a, b)));
  if constexpr (kOp == BinaryOp::maximum)
    return hn::IfThenElse(hn::IsNaN(a), a, hn::IfThenElse(hn::IsNaN(b), b, hn::IfThenElse(hn::Lt(b, a), a, b)));
  if constexpr (kOp == BinaryOp::relu_backward) return hn::IfThenElseZero(hn::Gt(b, hn::Zero(d)), a);
  if constexpr (kOp == BinaryOp::hardtanh_backward)
    return hn::IfThenElseZero(hn::And(hn::Lt(lo, b), hn::Lt(b, hi)), a);
}

// out[i] = a[i*sa] op b[i*sb] for sa, sb in {0, 1}; out is contiguous.
// `stream` uses non-temporal stores (out is 64-byte aligned and too big for the cache).
template <BinaryOp kOp, typename T>
HWY_INLINE void row(T* HWY_RESTRICT out, const T* HWY_RESTRICT a, int64_t sa, const T* HWY_RESTRICT b, int64_t sb,
                    int64_t n, T lo, T hi, bool stream) {
  const hn::ScalableTag<T> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  const auto va0 = hn::Set(d, a[0]), vb0 = hn::Set(d, b[0]), vlo = hn::Set(d, lo), vhi = hn::Set(d, hi);
  for (; i + N <= n; i += N) {
    const auto va = sa ? hn::LoadU(d, a + i) : va0;
    const auto vb = sb ? hn::LoadU(d, b + i) : vb0;
    const auto r = apply<kOp>(d, va, vb, vlo, vhi);
    if (stream) {
      hn::Stream(r, d, out + i);
    } else {
      hn::StoreU(r, d, out + i);
    }
  }
  for (; i < n; ++i) {
    if constexpr (is_grad_mask(kOp)) out[i] = binary_grad_mask(kOp, a[i * sa], b[i * sb], lo, hi);
    else out[i] = binary_arith(kOp, a[i * sa], b[i * sb]);
  }
  if (stream) hwy::FlushStream();  // order the non-temporal stores before the caller reads
}

template <typename T>
void RowImpl(BinaryOp op, T* out, const T* a, int64_t sa, const T* b, int64_t sb, int64_t n, T lo, T hi,
             bool stream) {
  switch (op) {
    case BinaryOp::add: return row<BinaryOp::add>(out, a, sa, b, sb, n, lo, hi, stream);
    case BinaryOp::sub: return row<BinaryOp::sub>(out, a, sa, b, sb, n, lo, hi, stream);
    case BinaryOp::mul: return row<BinaryOp::mul>(out, a, sa, b, sb, n, lo, hi, stream);
    case BinaryOp::div: return row<BinaryOp::div>(out, a, sa, b, sb, n, lo, hi, stream);
    case BinaryOp::minimum: return row<BinaryOp::minimum>(out, a, sa, b, sb, n, lo, hi, stream);
    case BinaryOp::maximum: return row<BinaryOp::maximum>(out, a, sa, b, sb, n, lo, hi, stream);
    case BinaryOp::relu_backward: return row<BinaryOp::relu_backward>(out, a, sa, b, sb, n, lo, hi, stream);
    case BinaryOp::hardtanh_backward:
      return row<BinaryOp::hardtanh_backward>(out, a, sa, b, sb, n, lo, hi, stream);
    default: break;
  }
}

void RowF32(BinaryOp op, float* out, const float* a, int64_t sa, const float* b, int64_t sb, int64_t n, float lo,
            float hi, bool stream) {
  RowImpl(op, out, a, sa, b, sb, n, lo, hi, stream);
}
void RowF64(BinaryOp op, double* out, const double* a, int64_t sa, const double* b, int64_t sb, int64_t n, double lo,
            double hi, bool stream) {
  RowImpl(op, out, a, sa, b, sb, n, lo, hi, stream);
}

}  // namespace lowbit::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lowbit::cpu {

HWY_EXPORT(RowF32);
HWY_EXPORT(RowF64);

// Non-temporal stores pay off once the output no longer fits in the last-level cache.
constexpr int64_t kStreamBytes = 32 << 20;

template <typename T>
static void simd_row(BinaryOp op, T* out, const T* a, int64_t sa, const T* b, int64_t sb, int64_t n, T lo, T hi,
                     bool stream) {
  if constexpr (std::is_same_v<T, float>) {
    HWY_DYNAMIC_DISPATCH(RowF32)(op, out, a, sa, b, sb, n, lo, hi, stream);
  } else {
    HWY_DYNAMIC_DISPATCH(RowF64)(op, out, a, sa, b, sb, n, lo, hi, stream);
  }
}

void binary(const BinaryParams& p, void* out, const void* a, const void* b) {
  const ElementwiseLayout& L = p.layout;
  const int64_t so = L.inner_stride(0), sa = L.inner_stride(1), sb = L.inner_stride(2);
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(a);
    const T* y = static_cast<const T*>(b);
    const T lo = convert<T>(p.min_val), hi = convert<T>(p.max_val);
    constexpr bool kFloat = std::is_floating_point_v<T>;
    const bool simd = kFloat && !is_comparison(p.op) && so == 1 && (sa == 0 || sa == 1) && (sb == 0 || sb == 1);
    const bool stream = simd && L.numel * static_cast<int64_t>(sizeof(T)) >= kStreamBytes &&
                        reinterpret_cast<uintptr_t>(out) % 64 == 0 && L.ndim == 1;
    for_each_row_chunk(L, [&](const int64_t* off, int64_t n) {
      if constexpr (kFloat) {
        if (simd)
          return simd_row(p.op, static_cast<T*>(out) + off[0], x + off[1], sa, y + off[2], sb, n, lo, hi, stream);
      } else {
        (void)stream;
      }
      if (is_comparison(p.op)) {
        uint8_t* o = static_cast<uint8_t*>(out) + off[0];
        for (int64_t i = 0; i < n; ++i) o[i * so] = binary_compare(p.op, x[off[1] + i * sa], y[off[2] + i * sb]);
      } else if (is_grad_mask(p.op)) {
        T* o = static_cast<T*>(out) + off[0];
        for (int64_t i = 0; i < n; ++i)
          o[i * so] = binary_grad_mask(p.op, x[off[1] + i * sa], y[off[2] + i * sb], lo, hi);
      } else {
        T* o = static_cast<T*>(out) + off[0];
        for (int64_t i = 0; i < n; ++i) o[i * so] = binary_arith(p.op, x[off[1] + i * sa], y[off[2] + i * sb]);
      }
    });
  });
}

}  // namespace lowbit::cpu
#endif  // HWY_ONCE
