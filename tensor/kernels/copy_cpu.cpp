// copy / fill on the CPU: rows along the innermost dim, chunked over OpenMP threads.
// Same-dtype contiguous rows are memcpy; converting rows are plain loops that the
// compiler vectorises (the conversion rules are in copy.h, shared with the reference).
#include <cstring>

#include "tensor/kernels/copy.h"
#include "tensor/kernels/cpu_loops.h"
#include "tensor/kernels/dtype_switch.h"

namespace lowbit::cpu {

template <typename D, typename S>
static void copy_row(D* out, int64_t so, const S* in, int64_t si, int64_t n, bool to_bool) {
  if (to_bool) {
    for (int64_t i = 0; i < n; ++i) out[i * so] = D(convert_to_bool(in[i * si]));
  } else if (so == 1 && si == 1) {
    if constexpr (std::is_same_v<D, S>) {
      std::memcpy(out, in, static_cast<size_t>(n) * sizeof(D));
    } else {
      for (int64_t i = 0; i < n; ++i) out[i] = convert<D>(in[i]);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) out[i * so] = convert<D>(in[i * si]);
  }
}

void copy(const CopyParams& p, void* dst, const void* src) {
  const ElementwiseLayout& L = p.layout;
  const bool to_bool = p.dst_dtype == DType::b8 && p.src_dtype != DType::b8;
  switch_dtype(p.dst_dtype, [&](auto dst_zero) {
    using D = decltype(dst_zero);
    switch_dtype(p.src_dtype, [&](auto src_zero) {
      using S = decltype(src_zero);
      D* out = static_cast<D*>(dst);
      const S* in = static_cast<const S*>(src);
      const int64_t so = L.inner_stride(0), si = L.inner_stride(1);
      for_each_row_chunk(L, [&](const int64_t* off, int64_t n) {
        copy_row(out + off[0], so, in + off[1], si, n, to_bool);
      });
    });
  });
}

void fill(const FillParams& p, void* dst) {
  const ElementwiseLayout& L = p.layout;
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T v = p.dtype == DType::b8 ? T(convert_to_bool(p.value)) : convert<T>(p.value);
    T* out = static_cast<T*>(dst);
    const int64_t so = L.inner_stride(0);
    for_each_row_chunk(L, [&](const int64_t* off, int64_t n) {
      T* o = out + off[0];
      if (so == 1) {
        for (int64_t i = 0; i < n; ++i) o[i] = v;
      } else {
        for (int64_t i = 0; i < n; ++i) o[i * so] = v;
      }
    });
  });
}

}  // namespace lowbit::cpu
