// switch_dtype: the one switch from a runtime DType to a C++ type.
//
//   switch_dtype(t, [&](auto zero) { using T = decltype(zero); ... });
//
// calls the lambda with a value-initialised T of the matching type (float for f32,
// uint8_t for u8 and b8, ...). Kernels use it instead of repeating the switch.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/error.h"

namespace lowbit {

template <typename F>
decltype(auto) switch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::i8: return f(int8_t{});
    case DType::u8: return f(uint8_t{});
    case DType::i32: return f(int32_t{});
    case DType::i64: return f(int64_t{});
    case DType::b8: return f(uint8_t{});
  }
  throw_error("switch_dtype: invalid dtype");
}

// Only f32 and f64 (the float-only ops check the dtype before calling a kernel).
template <typename F>
decltype(auto) switch_float_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    default: throw_error(str_cat("kernel: expected f32 or f64, got ", dtype_name(t)));
  }
}

}  // namespace lowbit
