// optim_step reference: one element at a time, the formulas of optim_step.h (torch 1.13's
// SGD and AdamW updates, each ATen op's rounding reproduced).
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/optim_step.h"

namespace lowbit::ref {

void sgd_step(const SgdStepParams& p, void* param, const void* grad, void* momentum_buffer) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const SgdScalars<T> s = sgd_scalars<T>(p);
    T* w = static_cast<T*>(param);
    const T* g = static_cast<const T*>(grad);
    T* buf = static_cast<T*>(momentum_buffer);  // null when momentum == 0
    for (int64_t i = 0; i < p.numel; ++i) w[i] = sgd_element(s, w[i], g[i], buf ? buf + i : nullptr);
  });
}

void adamw_step(const AdamWStepParams& p, void* param, const void* grad, void* exp_avg, void* exp_avg_sq,
                void* max_exp_avg_sq) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const AdamWScalars<T> s = adamw_scalars<T>(p);
    T* w = static_cast<T*>(param);
    const T* g = static_cast<const T*>(grad);
    T* m = static_cast<T*>(exp_avg);
    T* v = static_cast<T*>(exp_avg_sq);
    T* vmax = static_cast<T*>(max_exp_avg_sq);  // null unless amsgrad
    for (int64_t i = 0; i < p.numel; ++i) w[i] = adamw_element(s, w[i], g[i], m + i, v + i, vmax ? vmax + i : nullptr);
  });
}

}  // namespace lowbit::ref
