// copy: strided copy with dtype conversion (contiguous(), clone(), to(dtype), copy_),
// and fill. Host <-> device transfers are in tensor.cpp (they need no kernel).
//
// Conversion rules (the same on every backend, see convert() below):
//   float -> float   IEEE round to nearest
//   float -> int     truncate toward zero, saturate to the int range, NaN -> 0
//   int   -> int     two's complement wrap-around (C++20 integral conversion)
//   any   -> bool    value != 0 (NaN -> true)
//   bool  -> any     0 or 1
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "tensor/dtype.h"
#include "tensor/kernels/backend.h"
#include "tensor/kernels/elementwise.h"
#include "tensor/kernels/hostdevice.h"

namespace lowbit {

template <typename To, typename From>
LOWBIT_HD To convert(From v) {
  if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (v != v) return To(0);  // NaN
    // Compare in double: every int32/int8/uint8 bound is exact there; for int64 the
    // upper bound 2^63 - 1 rounds to 2^63, so >= catches exactly the overflowing values.
    const double d = static_cast<double>(v);
    if (d <= static_cast<double>(std::numeric_limits<To>::lowest())) return std::numeric_limits<To>::lowest();
    if (d >= static_cast<double>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
    return static_cast<To>(v);  // truncates toward zero
  } else {
    return static_cast<To>(v);
  }
}

// Conversion into a b8 destination (stored as uint8_t) normalises to 0/1.
template <typename From>
LOWBIT_HD uint8_t convert_to_bool(From v) { return v != From(0) ? 1 : 0; }

struct CopyParams {
  DType dst_dtype = DType::f32;
  DType src_dtype = DType::f32;
  ElementwiseLayout layout;  // operand 0 = dst, operand 1 = src
};

struct FillParams {
  DType dtype = DType::f32;
  double value = 0;          // converted to dtype by convert<T>(value)
  ElementwiseLayout layout;  // operand 0 = dst
};

namespace ref {
void copy(const CopyParams& p, void* dst, const void* src);
void fill(const FillParams& p, void* dst);
}  // namespace ref
namespace cpu {
void copy(const CopyParams& p, void* dst, const void* src);
void fill(const FillParams& p, void* dst);
}  // namespace cpu
namespace cuda {
void copy(const CopyParams& p, void* dst, const void* src);
void fill(const FillParams& p, void* dst);
}  // namespace cuda

inline void copy(Device device, const CopyParams& p, void* dst, const void* src) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::copy(p, dst, src);
    case Backend::cpu: return cpu::copy(p, dst, src);
    case Backend::cuda:
#if LOWBIT_WITH_CUDA
      return cuda::copy(p, dst, src);
#else
      throw_no_cuda("copy");
#endif
  }
}

inline void fill(Device device, const FillParams& p, void* dst) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::fill(p, dst);
    case Backend::cpu: return cpu::fill(p, dst);
    case Backend::cuda:
#if LOWBIT_WITH_CUDA
      return cuda::fill(p, dst);
#else
      throw_no_cuda("fill");
#endif
  }
}

}  // namespace lowbit
