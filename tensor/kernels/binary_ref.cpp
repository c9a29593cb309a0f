// binary reference: one element at a time, the formula from binary.h.
#include "tensor/kernels/binary.h"
#include "tensor/kernels/dtype_switch.h"

namespace lowbit {

const char* binary_op_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "minimum", "maximum", "relu_backward",
                                "hardtanh_backward", "eq", "ne", "lt", "le", "gt", "ge"};
  return names[static_cast<int>(op)];
}

namespace ref {

void binary(const BinaryParams& p, void* out, const void* a, const void* b) {
  const ElementwiseLayout& L = p.layout;
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(a);
    const T* y = static_cast<const T*>(b);
    const T lo = convert<T>(p.min_val), hi = convert<T>(p.max_val);
    int64_t off[kMaxOperands];
    for (int64_t i = 0; i < L.numel; ++i) {
      L.offsets(i, off);
      if (is_comparison(p.op)) {
        static_cast<uint8_t*>(out)[off[0]] = binary_compare(p.op, x[off[1]], y[off[2]]);
      } else if (is_grad_mask(p.op)) {
        static_cast<T*>(out)[off[0]] = binary_grad_mask(p.op, x[off[1]], y[off[2]], lo, hi);
      } else {
        static_cast<T*>(out)[off[0]] = binary_arith(p.op, x[off[1]], y[off[2]]);
      }
    }
  });
}

}  // namespace ref
}  // namespace lowbit
