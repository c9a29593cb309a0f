// unary reference: one element at a time, the formula unary_apply() in unary.h.
#include "tensor/kernels/copy.h"
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/unary.h"

namespace lowbit {

const char* unary_op_name(UnaryOp op) {
  static const char* names[] = {"neg",  "abs",     "sign",  "relu", "exp",   "log", "sqrt", "rsqrt",
                                "tanh", "sigmoid", "floor", "ceil", "round", "pow", "clamp"};
  return names[static_cast<int>(op)];
}

namespace ref {

void unary(const UnaryParams& p, void* out, const void* x) {
  const ElementwiseLayout& L = p.layout;
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T alpha = convert<T>(p.alpha), beta = convert<T>(p.beta);  // saturating (copy.h): clamp(i8, -1000, 1000)
    T* o = static_cast<T*>(out);
    const T* in = static_cast<const T*>(x);
    int64_t off[kMaxOperands];
    for (int64_t i = 0; i < L.numel; ++i) {
      L.offsets(i, off);
      o[off[0]] = unary_apply(p.op, in[off[1]], alpha, beta);
    }
  });
}

}  // namespace ref
}  // namespace lowbit
