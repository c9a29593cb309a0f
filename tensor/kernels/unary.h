// unary: elementwise functions of one tensor (plus scalar parameters).
//   neg abs sign relu           any numeric dtype (integer neg/abs wrap: abs(-128) = -128 in i8)
//   exp log sqrt rsqrt tanh sigmoid floor ceil round pow    f32 / f64 only
//   clamp                       any numeric dtype, bounds converted to the dtype
// round is half to even (std::nearbyint in the default rounding mode), like torch.round.
// NaN in gives NaN out for every op (relu, clamp and sign included).
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "tensor/dtype.h"
#include "tensor/kernels/backend.h"
#include "tensor/kernels/elementwise.h"
#include "tensor/kernels/hostdevice.h"

namespace lowbit {

enum class UnaryOp : uint8_t { neg, abs, sign, relu, exp, log, sqrt, rsqrt, tanh, sigmoid, floor, ceil, round, pow, clamp };

constexpr bool unary_needs_float(UnaryOp op) {
  return op != UnaryOp::neg && op != UnaryOp::abs && op != UnaryOp::sign && op != UnaryOp::relu && op != UnaryOp::clamp;
}
const char* unary_op_name(UnaryOp op);

struct UnaryParams {
  UnaryOp op = UnaryOp::neg;
  DType dtype = DType::f32;  // of input and output
  double alpha = 0;          // pow: exponent; clamp: lower bound
  double beta = 0;           // clamp: upper bound
  ElementwiseLayout layout;  // operand 0 = out, 1 = x
};

// The specification, shared by the reference, the CPU scalar tails and CUDA.
template <typename T>
LOWBIT_HD T unary_apply(UnaryOp op, T x, T alpha, T beta) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    switch (op) {
      case UnaryOp::neg: return T(U(0) - U(x));
      case UnaryOp::abs:
        if constexpr (std::is_signed_v<T>) return x < 0 ? T(U(0) - U(x)) : x;
        return x;
      case UnaryOp::sign:
        if constexpr (std::is_signed_v<T>) return T(x > 0 ? 1 : x < 0 ? -1 : 0);
        return T(x > 0 ? 1 : 0);
      case UnaryOp::relu: return x > 0 ? x : T(0);
      case UnaryOp::clamp: return x < alpha ? alpha : x > beta ? beta : x;
      default: return T(0);  // float-only ops never reach here (op layer)
    }
  } else {
    switch (op) {
      case UnaryOp::neg: return -x;
      case UnaryOp::abs: return std::fabs(x);
      case UnaryOp::sign: return x > 0 ? T(1) : x < 0 ? T(-1) : x;  // keeps +-0 and NaN
      case UnaryOp::relu: return x > 0 ? x : x != x ? x : T(0);
      case UnaryOp::exp: return std::exp(x);
      case UnaryOp::log: return std::log(x);
      case UnaryOp::sqrt: return std::sqrt(x);
      case UnaryOp::rsqrt: return T(1) / std::sqrt(x);
      case UnaryOp::tanh: return std::tanh(x);
      case UnaryOp::sigmoid: return T(1) / (T(1) + std::exp(-x));
      case UnaryOp::floor: return std::floor(x);
      case UnaryOp::ceil: return std::ceil(x);
      case UnaryOp::round: return std::nearbyint(x);
      case UnaryOp::pow: return std::pow(x, alpha);
      case UnaryOp::clamp: return x != x ? x : x < alpha ? alpha : x > beta ? beta : x;
    }
    return T(0);
  }
}

namespace ref { void unary(const UnaryParams& p, void* out, const void* x); }
namespace cpu { void unary(const UnaryParams& p, void* out, const void* x); }
namespace cuda { void unary(const UnaryParams& p, void* out, const void* x); }

inline void unary(Device device, const UnaryParams& p, void* out, const void* x) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::unary(p, out, x);
    case Backend::cpu: return cpu::unary(p, out, x);
    case Backend::cuda:
#if LOWBIT_WITH_CUDA
      return cuda::unary(p, out, x);
#else
      throw_no_cuda("unary");
#endif
  }
}

}  // namespace lowbit
