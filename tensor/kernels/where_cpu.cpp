// where on the CPU: rows along the innermost dim on OpenMP threads. A select is one
// load per operand and a blend, which the compiler vectorises from this plain loop;
// the result is a copy of an input element, so it is bit-identical to the reference.
#include "tensor/kernels/cpu_loops.h"
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/where.h"

namespace lowbit::cpu {

void where(const WhereParams& p, void* out, const void* cond, const void* a, const void* b) {
  const ElementwiseLayout& L = p.layout;
  const int64_t so = L.inner_stride(0), sc = L.inner_stride(1), sa = L.inner_stride(2), sb = L.inner_stride(3);
  const uint8_t* c = static_cast<const uint8_t*>(cond);
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    T* o = static_cast<T*>(out);
    const T* x = static_cast<const T*>(a);
    const T* y = static_cast<const T*>(b);
    for_each_row_chunk(L, [&](const int64_t* off, int64_t n) {
      T* orow = o + off[0];
      const uint8_t* crow = c + off[1];
      const T* xrow = x + off[2];
      const T* yrow = y + off[3];
      if (so == 1 && sc == 1 && sa == 1 && sb == 1) {
        for (int64_t i = 0; i < n; ++i) orow[i] = crow[i] ? xrow[i] : yrow[i];
      } else {
        for (int64_t i = 0; i < n; ++i) orow[i * so] = crow[i * sc] ? xrow[i * sa] : yrow[i * sb];
      }
    });
  });
}

}  // namespace lowbit::cpu
