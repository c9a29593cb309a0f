// fake_quantize reference: plain loops over [outer, channels, inner], one element at a
// time through the formulas of fake_quantize.h (QUANT_NUMERICS §3.1-§3.3, §5.2).
#include "quant/kernels/fake_quantize.h"
#include "tensor/kernels/dtype_switch.h"

namespace lowbit::quant::ref {

void fake_quantize_forward(const FakeQuantizeParams& p, void* y, const void* x, const void* scale,
                           const void* zero_point) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* in = static_cast<const T*>(x);
    const T* s = static_cast<const T*>(scale);
    const T* z = static_cast<const T*>(zero_point);
    T* out = static_cast<T*>(y);
    for (int64_t o = 0; o < p.outer; ++o)
      for (int64_t c = 0; c < p.channels; ++c) {
        const FqChannel<T> k = fq_channel(s[c], z[c], p.qmin, p.qmax);
        const int64_t row = (o * p.channels + c) * p.inner;
        for (int64_t i = 0; i < p.inner; ++i) out[row + i] = fq_forward_element(in[row + i], k, p.policy);
      }
  });
}

void fake_quantize_backward(const FakeQuantizeParams& p, void* dx, const void* dy, const void* x, const void* scale,
                            const void* zero_point) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* in = static_cast<const T*>(x);
    const T* gy = static_cast<const T*>(dy);
    const T* s = static_cast<const T*>(scale);
    const T* z = static_cast<const T*>(zero_point);
    T* gx = static_cast<T*>(dx);
    for (int64_t o = 0; o < p.outer; ++o)
      for (int64_t c = 0; c < p.channels; ++c) {
        const FqChannel<T> k = fq_channel(s[c], z[c], p.qmin, p.qmax);
        const int64_t row = (o * p.channels + c) * p.inner;
        for (int64_t i = 0; i < p.inner; ++i) gx[row + i] = fq_backward_element(gy[row + i], in[row + i], k, p.policy);
      }
  });
}

void fake_quantize_learnable_backward(const FakeQuantizeLearnableParams& p, void* dx, void* dscale, void* dzero_point,
                                      const void* dy, const void* x, const void* scale, const void* zero_point) {
  const FakeQuantizeParams& f = p.fq;
  switch_float_dtype(f.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* in = static_cast<const T*>(x);
    const T* gy = static_cast<const T*>(dy);
    const T* s = static_cast<const T*>(scale);
    const T* z = static_cast<const T*>(zero_point);
    T* gx = static_cast<T*>(dx);
    T* gs = static_cast<T*>(dscale);
    T* gz = static_cast<T*>(dzero_point);
    const T grad_factor = static_cast<T>(p.grad_factor);  // torch passes it to its kernel as a float
    for (int64_t o = 0; o < f.outer; ++o)
      for (int64_t c = 0; c < f.channels; ++c) {
        const FqChannel<T> k = fq_channel(s[c], z[c], f.qmin, f.qmax);
        const int64_t row = (o * f.channels + c) * f.inner;
        for (int64_t i = 0; i < f.inner; ++i) {
          const int64_t j = row + i;
          const LearnableGrads<T> g = p.formula == LearnableFormula::pytorch
                                          ? learnable_pytorch_element(in[j], gy[j], k, grad_factor)
                                          : learnable_lsq_element(in[j], gy[j], k, f.policy, p.mask, grad_factor);
          gx[j] = g.dx;
          gs[j] = g.dscale;
          gz[j] = g.dzero_point;
        }
      }
  });
}

}  // namespace lowbit::quant::ref
