// copy / fill reference: one element at a time through ElementwiseLayout::offsets().
#include "tensor/kernels/copy.h"
#include "tensor/kernels/dtype_switch.h"

namespace lowbit::ref {

void copy(const CopyParams& p, void* dst, const void* src) {
  const ElementwiseLayout& L = p.layout;
  switch_dtype(p.dst_dtype, [&](auto dst_zero) {
    using D = decltype(dst_zero);
    switch_dtype(p.src_dtype, [&](auto src_zero) {
      using S = decltype(src_zero);
      D* out = static_cast<D*>(dst);
      const S* in = static_cast<const S*>(src);
      int64_t off[kMaxOperands];
      for (int64_t i = 0; i < L.numel; ++i) {
        L.offsets(i, off);
        const S v = in[off[1]];
        out[off[0]] = p.dst_dtype == DType::b8 ? D(convert_to_bool(v)) : convert<D>(v);
      }
    });
  });
}

void fill(const FillParams& p, void* dst) {
  const ElementwiseLayout& L = p.layout;
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T v = p.dtype == DType::b8 ? T(convert_to_bool(p.value)) : convert<T>(p.value);
    T* out = static_cast<T*>(dst);
    int64_t off[kMaxOperands];
    for (int64_t i = 0; i < L.numel; ++i) {
      L.offsets(i, off);
      out[off[0]] = v;
    }
  });
}

}  // namespace lowbit::ref
