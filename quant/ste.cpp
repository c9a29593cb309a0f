#include "quant/ste.h"

#include "autograd/function.h"
#include "tensor/error.h"
#include "tensor/kernels/dtype_switch.h"

namespace lowbit::quant {

Tensor round_ste(const Tensor& x, Rounding rounding) {
  LOWBIT_CHECK(x.defined() && (x.dtype() == DType::f32 || x.dtype() == DType::f64),
               "round_ste: x must be f32 or f64, got ", describe(x));
  LOWBIT_CHECK(x.device().is_cpu(), "round_ste: only CPU tensors for now, got ", describe(x));
  return apply_function(
      "round_ste", {x},
      [rounding](FunctionCtx&, const std::vector<Tensor>& in) {
        const Tensor xc = in[0].contiguous();
        Tensor y = empty(xc.sizes(), xc.dtype(), xc.device());
        switch_float_dtype(xc.dtype(), [&](auto zero) {
          using T = decltype(zero);
          const T* src = xc.data<T>();
          T* dst = y.data<T>();
          const int64_t n = xc.numel();
          for (int64_t i = 0; i < n; ++i) dst[i] = round_value(src[i], rounding);
        });
        return y;
      },
      [](FunctionCtx&, const Tensor& gy) -> Grads { return {gy}; });
}

}  // namespace lowbit::quant
