// optim_step: the per-element parameter updates of the optimizers in nn/optim.h.
//
// Each kernel updates one parameter tensor in place, with its gradient and its optimizer
// state, all contiguous arrays of `numel` elements of one dtype (f32 or f64):
//
//   sgd_step    param (n), grad (n), momentum_buffer (n, or null when momentum == 0)
//   adamw_step  param (n), grad (n), exp_avg (n), exp_avg_sq (n),
//               max_exp_avg_sq (n, or null unless amsgrad)
//
// The formulas are PyTorch 1.13's (torch/optim/sgd.py _single_tensor_sgd and
// torch/optim/adamw.py _single_tensor_adamw), reproduced operation by operation as ATen
// evaluates them on the CPU, so that float32 results are the same bits as torch's:
//  - Every hyper-parameter is a double (torch's Python float), and whatever the Python
//    code computes from it (1 - dampening, 1 - lr * weight_decay, lr / bias_correction1,
//    ...) is computed in double by the caller or by *_scalars() below. ATen then rounds
//    each scalar argument to the tensor's dtype once (Scalar::to<float>()), and so do we.
//  - `add(x, y, alpha)` is vec::fmadd(y, alpha, x) in ATen's AVX2 loop, and its scalar
//    tail `x + alpha * y` is contracted into an FMA too (this torch was built with GCC's
//    default -ffp-contract=fast), so it is one fused multiply-add: std::fma(y, alpha, x).
//    `addcmul(x, t1, t2, value)` is x + value * t1 * t2, fused the same way:
//    std::fma(value * t1, t2, x). `addcdiv(x, t1, t2, value)` is x + (value * t1) / t2
//    (a quotient cannot be fused). mul, div, sqrt and the +eps are single IEEE operations.
//    This project compiles with -ffp-contract=off, so every FMA below is written out.
//    (tests/golden/make_optim_golden.py records torch's results; tests/optim_test.cpp
//    checks every step bit for bit.)
//
// ref:: and cpu:: evaluate the same formula per element (cpu:: in SIMD lanes with
// hardware FMA, or with std::fma), so they agree bit for bit, up to NaN payloads.
#pragma once

#include <cmath>
#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/kernels/backend.h"
#include "tensor/kernels/hostdevice.h"

namespace lowbit {

// torch.optim.SGD, one parameter (the update of one step; torch's pseudo-code):
//   d_p = maximize ? -grad : grad
//   if weight_decay != 0:  d_p = d_p + weight_decay * param            add(alpha)
//   if momentum != 0:
//     buf = first step ? d_p                                          torch.clone(d_p)
//                      : buf * momentum + (1 - dampening) * d_p       mul_, add_(alpha)
//     d_p = nesterov ? d_p + momentum * buf : buf                      add(alpha)
//   param = param + (-lr) * d_p                                        add_(alpha)
struct SgdStepParams {
  DType dtype = DType::f32;  // of param, grad and momentum_buffer
  int64_t numel = 0;
  double lr = 0;
  double momentum = 0;      // the buffer is used iff momentum != 0 (tested on the double, as torch does)
  double dampening = 0;     // enters as T(1 - dampening)
  double weight_decay = 0;  // applied iff != 0
  bool nesterov = false;
  bool maximize = false;
  bool first_step = false;  // this parameter's buffer does not exist yet: buf = d_p
};

// torch.optim.AdamW, one parameter at step t (t counts this parameter's updates, from 1):
//   g = maximize ? -grad : grad
//   param      = param * (1 - lr * weight_decay)                      mul_
//   exp_avg    = exp_avg * beta1 + (1 - beta1) * g                     mul_, add_(alpha)
//   exp_avg_sq = exp_avg_sq * beta2 + (1 - beta2) * g * g              mul_, addcmul_(value)
//   v = amsgrad ? (max_exp_avg_sq = maximum(max_exp_avg_sq, exp_avg_sq)) : exp_avg_sq
//   denom      = sqrt(v) / sqrt(1 - beta2^t) + eps                     sqrt, div, add_
//   param      = param + (-lr / (1 - beta1^t)) * exp_avg / denom       addcdiv_(value)
// The caller computes the double scalars exactly as torch's Python code does.
struct AdamWStepParams {
  DType dtype = DType::f32;  // of param, grad and the three state arrays
  int64_t numel = 0;
  double decay = 1;                   // 1 - lr * weight_decay
  double beta1 = 0.9, beta2 = 0.999;  // and 1 - beta1, 1 - beta2 (computed in double)
  double bias_correction2_sqrt = 1;   // sqrt(1 - pow(beta2, t))  (math.sqrt)
  double eps = 1e-8;
  double neg_step_size = 0;  // -(lr / (1 - pow(beta1, t)))
  bool amsgrad = false;
  bool maximize = false;
};

// ---- the per-element formulas, shared by every backend ----

// The scalars rounded to T once, as ATen rounds a Scalar argument before its loop.
template <typename T>
struct SgdScalars {
  T neg_lr, momentum, one_minus_dampening, weight_decay;
  bool use_weight_decay, use_momentum, nesterov, maximize, first_step;
};
template <typename T>
LOWBIT_HD SgdScalars<T> sgd_scalars(const SgdStepParams& p) {
  return {
      .neg_lr = T(-p.lr),                           // add_(d_p, alpha=-lr)
      .momentum = T(p.momentum),                    // mul_(momentum), add(buf, alpha=momentum)
      .one_minus_dampening = T(1.0 - p.dampening),  // add_(d_p, alpha=1 - dampening)
      .weight_decay = T(p.weight_decay),            // add(param, alpha=weight_decay)
      .use_weight_decay = p.weight_decay != 0,
      .use_momentum = p.momentum != 0,
      .nesterov = p.nesterov,
      .maximize = p.maximize,
      .first_step = p.first_step,
  };
}

// Returns the updated parameter; updates *buf when momentum is used.
template <typename T>
LOWBIT_HD T sgd_element(const SgdScalars<T>& s, T param, T grad, T* buf) {
  T d_p = s.maximize ? -grad : grad;
  if (s.use_weight_decay) d_p = std::fma(param, s.weight_decay, d_p);
  if (s.use_momentum) {
    *buf = s.first_step ? d_p : std::fma(d_p, s.one_minus_dampening, *buf * s.momentum);
    d_p = s.nesterov ? std::fma(*buf, s.momentum, d_p) : *buf;
  }
  return std::fma(d_p, s.neg_lr, param);
}

template <typename T>
struct AdamWScalars {
  T decay, beta1, one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt, eps, neg_step_size;
  bool amsgrad, maximize;
};
template <typename T>
LOWBIT_HD AdamWScalars<T> adamw_scalars(const AdamWStepParams& p) {
  return {
      .decay = T(p.decay),                                  // param.mul_(1 - lr * weight_decay)
      .beta1 = T(p.beta1),                                  // exp_avg.mul_(beta1)
      .one_minus_beta1 = T(1.0 - p.beta1),                  // add_(grad, alpha=1 - beta1)
      .beta2 = T(p.beta2),                                  // exp_avg_sq.mul_(beta2)
      .one_minus_beta2 = T(1.0 - p.beta2),                  // addcmul_(grad, grad, value=1 - beta2)
      .bias_correction2_sqrt = T(p.bias_correction2_sqrt),  // sqrt() / bias_correction2_sqrt
      .eps = T(p.eps),                                      // add_(eps)
      .neg_step_size = T(p.neg_step_size),                  // addcdiv_(exp_avg, denom, value=-step_size)
      .amsgrad = p.amsgrad,
      .maximize = p.maximize,
  };
}

// torch.maximum: NaN if either is NaN (here: that operand), else the larger.
template <typename T>
LOWBIT_HD T nan_maximum(T a, T b) {
  return a != a ? a : b != b ? b : a < b ? b : a;
}

// Returns the updated parameter; updates the moments (and the running maximum).
template <typename T>
LOWBIT_HD T adamw_element(const AdamWScalars<T>& s, T param, T grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq) {
  const T g = s.maximize ? -grad : grad;
  param = param * s.decay;
  *exp_avg = std::fma(g, s.one_minus_beta1, *exp_avg * s.beta1);
  *exp_avg_sq = std::fma(s.one_minus_beta2 * g, g, *exp_avg_sq * s.beta2);
  T v = *exp_avg_sq;
  if (s.amsgrad) v = *max_exp_avg_sq = nan_maximum(*max_exp_avg_sq, v);
  const T denom = std::sqrt(v) / s.bias_correction2_sqrt + s.eps;
  return param + (s.neg_step_size * *exp_avg) / denom;
}

// ---- kernels ----

namespace ref {
void sgd_step(const SgdStepParams& p, void* param, const void* grad, void* momentum_buffer);
void adamw_step(const AdamWStepParams& p, void* param, const void* grad, void* exp_avg, void* exp_avg_sq,
                void* max_exp_avg_sq);
}  // namespace ref
namespace cpu {
void sgd_step(const SgdStepParams& p, void* param, const void* grad, void* momentum_buffer);
void adamw_step(const AdamWStepParams& p, void* param, const void* grad, void* exp_avg, void* exp_avg_sq,
                void* max_exp_avg_sq);
}  // namespace cpu
// The CUDA kernels come with the CUDA issue: declared only; the switches below raise
// throw_no_cuda_kernel for CUDA tensors until then.
namespace cuda {
void sgd_step(const SgdStepParams& p, void* param, const void* grad, void* momentum_buffer);
void adamw_step(const AdamWStepParams& p, void* param, const void* grad, void* exp_avg, void* exp_avg_sq,
                void* max_exp_avg_sq);
}  // namespace cuda

inline void sgd_step(Device device, const SgdStepParams& p, void* param, const void* grad, void* momentum_buffer) {
  switch (backend_for(device)) {
    case Backend::ref:
      return ref::sgd_step(p, param, grad, momentum_buffer);
    case Backend::cpu:
      return cpu::sgd_step(p, param, grad, momentum_buffer);
    case Backend::cuda:
#if LOWBIT_WITH_CUDA
      throw_no_cuda_kernel("sgd_step");  // until optim_step_cuda.cu exists (the CUDA issue)
#else
      throw_no_cuda("sgd_step");
#endif
  }
}

inline void adamw_step(Device device, const AdamWStepParams& p, void* param, const void* grad, void* exp_avg,
                       void* exp_avg_sq, void* max_exp_avg_sq) {
  switch (backend_for(device)) {
    case Backend::ref:
      return ref::adamw_step(p, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq);
    case Backend::cpu:
      return cpu::adamw_step(p, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq);
    case Backend::cuda:
#if LOWBIT_WITH_CUDA
      throw_no_cuda_kernel("adamw_step");  // until optim_step_cuda.cu exists (the CUDA issue)
#else
      throw_no_cuda("adamw_step");
#endif
  }
}

}  // namespace lowbit
