// where reference: out = cond ? a : b, one element at a time.
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/where.h"

namespace lowbit::ref {

void where(const WhereParams& p, void* out, const void* cond, const void* a, const void* b) {
  const ElementwiseLayout& L = p.layout;
  const uint8_t* c = static_cast<const uint8_t*>(cond);
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    T* o = static_cast<T*>(out);
    const T* x = static_cast<const T*>(a);
    const T* y = static_cast<const T*>(b);
    int64_t off[kMaxOperands];
    for (int64_t i = 0; i < L.numel; ++i) {
      L.offsets(i, off);
      o[off[0]] = c[off[1]] ? x[off[2]] : y[off[3]];
    }
  });
}

}  // namespace lowbit::ref
