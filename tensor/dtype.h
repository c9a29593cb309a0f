// Element types. A Tensor's dtype says how to read its bytes; kernels switch on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace lowbit {

enum class DType : uint8_t { f32, f64, i8, u8, i32, i64, b8 };

// b8 is bool stored as one byte holding 0 or 1 (the result of comparisons).
constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i8: return 1;
    case DType::u8: return 1;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::b8: return 1;
  }
  return 0;
}

constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }
constexpr bool is_integral(DType t) { return !is_floating(t) && t != DType::b8; }
constexpr bool is_signed(DType t) { return t != DType::u8 && t != DType::b8; }

const char* dtype_name(DType t);  // "f32", "i64", ...
DType dtype_from_name(const std::string& name);  // throws lowbit::Error on unknown names

// The C++ type of each dtype, for templates: CType<DType::f32> is float.
template <DType T> struct CTypeOf;
template <> struct CTypeOf<DType::f32> { using type = float; };
template <> struct CTypeOf<DType::f64> { using type = double; };
template <> struct CTypeOf<DType::i8> { using type = int8_t; };
template <> struct CTypeOf<DType::u8> { using type = uint8_t; };
template <> struct CTypeOf<DType::i32> { using type = int32_t; };
template <> struct CTypeOf<DType::i64> { using type = int64_t; };
template <> struct CTypeOf<DType::b8> { using type = uint8_t; };
template <DType T> using CType = typename CTypeOf<T>::type;

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int8_t>() { return DType::i8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }

}  // namespace lowbit
