// binary: elementwise ops of two tensors with NumPy broadcasting.
//   arithmetic  out[i] = a[i] op b[i]            add sub mul div minimum maximum
//   comparison  out[i] = (a[i] op b[i]) ? 1 : 0   eq ne lt le gt ge  (out is b8)
//   grad mask   out[i] = inside(b[i]) ? a[i] : 0   relu_backward, hardtanh_backward
//               (a is the incoming gradient, b the tensor the activation saved):
//                 relu_backward      inside(b) = b > 0
//                 hardtanh_backward  inside(b) = min_val < b && b < max_val (bounds excluded)
//               These fuse what would be cmp + where (two passes and a b8 tensor) into
//               one pass. A NaN b is outside (every comparison with NaN is false), so
//               its gradient is +0; a NaN a where b is inside passes through unchanged.
//               The bounds are converted to the dtype first (copy.h rules, as for a
//               scalar operand), then compared in it.
// a and b have the same dtype (the op layer checks it). Integer add/sub/mul wrap
// around (two's complement) instead of overflowing; div is for floats only.
// minimum/maximum propagate NaN (as PyTorch's torch.minimum/maximum do).
// Every backend computes one IEEE operation per element, so results are bit-identical
// across backends, up to which NaN payload NaN op NaN returns.
#pragma once

#include <cstdint>
#include <type_traits>

#include "tensor/dtype.h"
#include "tensor/kernels/backend.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/elementwise.h"
#include "tensor/kernels/hostdevice.h"

namespace lowbit {

enum class BinaryOp : uint8_t {
  add, sub, mul, div, minimum, maximum,  // arithmetic
  relu_backward, hardtanh_backward,      // grad masks
  eq, ne, lt, le, gt, ge                 // comparisons (keep last: is_comparison)
};

constexpr bool is_comparison(BinaryOp op) { return op >= BinaryOp::eq; }
constexpr bool is_grad_mask(BinaryOp op) { return op == BinaryOp::relu_backward || op == BinaryOp::hardtanh_backward; }
const char* binary_op_name(BinaryOp op);

struct BinaryParams {
  BinaryOp op = BinaryOp::add;
  DType dtype = DType::f32;  // of a and b; out has this dtype, or b8 for comparisons
  ElementwiseLayout layout;  // operand 0 = out, 1 = a, 2 = b
  double min_val = 0, max_val = 0;  // hardtanh_backward only
};

// The formula, shared by every backend (the CPU SIMD paths repeat it lane-wise).
template <typename T>
LOWBIT_HD T binary_arith(BinaryOp op, T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;  // wrap-around without signed-overflow UB
    switch (op) {
      case BinaryOp::add: return T(U(a) + U(b));
      case BinaryOp::sub: return T(U(a) - U(b));
      case BinaryOp::mul: return T(U(a) * U(b));
      case BinaryOp::minimum: return a < b ? a : b;
      case BinaryOp::maximum: return a > b ? a : b;
      default: return T(0);  // div, comparisons and grad masks never reach here
    }
  } else {
    switch (op) {
      case BinaryOp::add: return a + b;
      case BinaryOp::sub: return a - b;
      case BinaryOp::mul: return a * b;
      case BinaryOp::div: return a / b;
      case BinaryOp::minimum: return a != a ? a : b != b ? b : a < b ? a : b;
      case BinaryOp::maximum: return a != a ? a : b != b ? b : a > b ? a : b;
      default: return T(0);
    }
  }
}

// The grad masks: a where b is inside, else +0. lo, hi: min_val, max_val converted to T
// by copy.h's convert() (the kernels do it once per call), the rule by which a scalar
// operand takes a tensor's dtype. Ordered comparisons, so a NaN b is never inside.
template <typename T>
LOWBIT_HD T binary_grad_mask(BinaryOp op, T a, T b, T lo, T hi) {
  const bool inside = op == BinaryOp::relu_backward ? b > T(0) : (lo < b && b < hi);
  return inside ? a : T(0);
}

template <typename T>
LOWBIT_HD uint8_t binary_compare(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::eq: return a == b;
    case BinaryOp::ne: return a != b;
    case BinaryOp::lt: return a < b;
    case BinaryOp::le: return a <= b;
    case BinaryOp::gt: return a > b;
    case BinaryOp::ge: return a >= b;
    default: return 0;
  }
}

namespace ref { void binary(const BinaryParams& p, void* out, const void* a, const void* b); }
namespace cpu { void binary(const BinaryParams& p, void* out, const void* a, const void* b); }
namespace cuda { void binary(const BinaryParams& p, void* out, const void* a, const void* b); }

inline void binary(Device device, const BinaryParams& p, void* out, const void* a, const void* b) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::binary(p, out, a, b);
    case Backend::cpu: return cpu::binary(p, out, a, b);
    case Backend::cuda:
#if LOWBIT_WITH_CUDA
      return cuda::binary(p, out, a, b);
#else
      throw_no_cuda("binary");
#endif
  }
}

}  // namespace lowbit
