// batch_norm: per-channel normalisation of a contiguous (N, C, S) input, S = H*W (or
// any product of trailing dims; 1 for an [N, C] input), f32 or f64. Channel c has
// M = N*S values x[n, c, s]; gamma, beta are optional (null: gamma = 1, beta = 0).
//
// Training forward (torch.nn.functional.batch_norm with training=True):
//   mean   = (1/M) sum x                          in double, then, two-pass,
//   q      = sum (x - mean)^2                     var = q / M (biased: what normalises)
//   invstd = 1 / sqrt(var + eps)
//   y      = ((x - mean) * invstd) * gamma + beta (in double, rounded once to the dtype)
//   save_mean = mean, save_invstd = invstd        (rounded to the dtype, for backward)
//   running_mean = (1 - momentum) * running_mean + momentum * mean
//   running_var  = (1 - momentum) * running_var  + momentum * q / (M - 1)
//                                                 (the UNBIASED variance; needs M >= 2)
// Eval forward: an affine map per channel, whose two coefficients are computed in double
// and rounded once to the dtype,
//   invstd = 1 / sqrt(running_var + eps),  a = gamma * invstd,  b = beta - running_mean * a
//   y      = x * a + b                     (in the dtype: product and sum rounded separately)
// then the fused activation, if any (BatchNormParams::act), exactly as the activation op
// computes it: relu y > 0 || isnan(y) ? y : 0 (so -0 becomes +0), relu6 = clamp(y, 0, 6)
// (y < 0 ? 0 : y > 6 ? 6 : y: NaN passes, -0 stays). A BatchNorm followed by ReLU/ReLU6 in
// inference is then one pass over memory instead of two (nn::batch_norm_act), with the bits
// of the two ops run one after the other. The f32 per-element work is float arithmetic
// (twice the lanes of double): it is PyTorch's CPU formula for eval too, and differs from the
// training formula below only by the rounding of a and b.
//
// Backward, with xhat = (x - mean) * invstd and (mean, invstd) the saved batch statistics
// in training, the running ones in eval:
//   dbeta  = sum dy                      dgamma = sum dy * xhat = invstd * sum dy * (x - mean)
//   training  dx = (invstd * gamma / M) * (M * dy - dbeta - xhat * dgamma)
//             (y depends on x also through mean and var: d mean/dx = 1/M, d var/dx = 2 (x - mean)/M)
//   eval      dx = dy * (gamma * invstd)  (the statistics are constants)
// Sums over a channel accumulate in double; every per-element formula is evaluated in
// double in the order written and rounded once.
//
// CPU vs reference: the per-element passes (y, dx) use the reference's operations in its
// order (Highway SIMD lanes in double), so they agree bit for bit given the same
// statistics: eval forward and eval dx are bit-identical. The channel sums are taken in
// another order (16 interleaved partial sums per plane, planes in order), so mean, var,
// the running stats, dgamma, dbeta and everything computed from them differ by rounding;
// the bounds are derived in tests/batch_norm_test.cpp. The summation order depends only
// on the shape (and not the SIMD target), never on the thread count.
#pragma once

#include <cmath>
#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/kernels/backend.h"

namespace lowbit {

// The activation fused into the eval forward (see above).
enum class BatchNormAct : uint8_t { none, relu, relu6 };
inline const char* batch_norm_act_name(BatchNormAct act) {
  switch (act) {
    case BatchNormAct::none: return "none";
    case BatchNormAct::relu: return "relu";
    case BatchNormAct::relu6: return "relu6";
  }
  return "?";
}

// The eval forward's per-channel coefficients, rounded to T: y = x * a + b.
template <typename T>
struct BatchNormEvalCoefficients {
  T a, b;
};
template <typename T>
BatchNormEvalCoefficients<T> batch_norm_eval_coefficients(double running_mean, double running_var, double gamma,
                                                          double beta, double eps) {
  const double invstd = 1.0 / std::sqrt(running_var + eps), a = gamma * invstd;
  return {static_cast<T>(a), static_cast<T>(beta - running_mean * a)};
}

// The fused activation on one value: the specification the kernels vectorise.
template <typename T>
T batch_norm_act_apply(BatchNormAct act, T y) {
  switch (act) {
    case BatchNormAct::none: return y;
    case BatchNormAct::relu: return y > T(0) || y != y ? y : T(0);
    case BatchNormAct::relu6: return y < T(0) ? T(0) : y > T(6) ? T(6) : y;
  }
  return y;
}

struct BatchNormParams {
  DType dtype = DType::f32;  // of every tensor argument
  int64_t batch = 0;         // N
  int64_t channels = 0;      // C
  int64_t plane = 1;         // S = H*W: contiguous values of one (n, c)
  double eps = 1e-5;
  double momentum = 0.1;  // training forward with running statistics only
  BatchNormAct act = BatchNormAct::none;  // eval forward only
};

// Shapes: x, y, dy, dx are (N, C, S); every other pointer is (C). gamma and beta may be
// null (no affine); running_mean/running_var may be null in training (not tracked; both
// or neither); dgamma/dbeta may be null (not wanted).
namespace ref {
void batch_norm_train(const BatchNormParams& p, const void* x, const void* gamma, const void* beta, void* y,
                      void* save_mean, void* save_invstd, void* running_mean, void* running_var);
void batch_norm_eval(const BatchNormParams& p, const void* x, const void* gamma, const void* beta,
                     const void* running_mean, const void* running_var, void* y);
void batch_norm_backward(const BatchNormParams& p, const void* dy, const void* x, const void* gamma,
                         const void* save_mean, const void* save_invstd, void* dx, void* dgamma, void* dbeta);
void batch_norm_eval_backward(const BatchNormParams& p, const void* dy, const void* x, const void* gamma,
                              const void* running_mean, const void* running_var, void* dx, void* dgamma,
                              void* dbeta);
}  // namespace ref
namespace cpu {
void batch_norm_train(const BatchNormParams& p, const void* x, const void* gamma, const void* beta, void* y,
                      void* save_mean, void* save_invstd, void* running_mean, void* running_var);
void batch_norm_eval(const BatchNormParams& p, const void* x, const void* gamma, const void* beta,
                     const void* running_mean, const void* running_var, void* y);
void batch_norm_backward(const BatchNormParams& p, const void* dy, const void* x, const void* gamma,
                         const void* save_mean, const void* save_invstd, void* dx, void* dgamma, void* dbeta);
void batch_norm_eval_backward(const BatchNormParams& p, const void* dy, const void* x, const void* gamma,
                              const void* running_mean, const void* running_var, void* dx, void* dgamma,
                              void* dbeta);
}  // namespace cpu

// The device switches. There is no batch_norm_cuda.cu yet: the CUDA kernels come with
// the CUDA issue, until then a CUDA tensor gets throw_no_cuda_kernel.
inline void batch_norm_train(Device device, const BatchNormParams& p, const void* x, const void* gamma,
                             const void* beta, void* y, void* save_mean, void* save_invstd, void* running_mean,
                             void* running_var) {
  switch (backend_for(device)) {
    case Backend::ref:
      return ref::batch_norm_train(p, x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var);
    case Backend::cpu:
      return cpu::batch_norm_train(p, x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var);
    case Backend::cuda: throw_no_cuda_kernel("batch_norm_train");  // CUDA kernel: with the CUDA issue
  }
}
inline void batch_norm_eval(Device device, const BatchNormParams& p, const void* x, const void* gamma,
                            const void* beta, const void* running_mean, const void* running_var, void* y) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::batch_norm_eval(p, x, gamma, beta, running_mean, running_var, y);
    case Backend::cpu: return cpu::batch_norm_eval(p, x, gamma, beta, running_mean, running_var, y);
    case Backend::cuda: throw_no_cuda_kernel("batch_norm_eval");  // CUDA kernel: with the CUDA issue
  }
}
inline void batch_norm_backward(Device device, const BatchNormParams& p, const void* dy, const void* x,
                                const void* gamma, const void* save_mean, const void* save_invstd, void* dx,
                                void* dgamma, void* dbeta) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::batch_norm_backward(p, dy, x, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
    case Backend::cpu: return cpu::batch_norm_backward(p, dy, x, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
    case Backend::cuda: throw_no_cuda_kernel("batch_norm_backward");  // CUDA kernel: with the CUDA issue
  }
}
inline void batch_norm_eval_backward(Device device, const BatchNormParams& p, const void* dy, const void* x,
                                     const void* gamma, const void* running_mean, const void* running_var, void* dx,
                                     void* dgamma, void* dbeta) {
  switch (backend_for(device)) {
    case Backend::ref:
      return ref::batch_norm_eval_backward(p, dy, x, gamma, running_mean, running_var, dx, dgamma, dbeta);
    case Backend::cpu:
      return cpu::batch_norm_eval_backward(p, dy, x, gamma, running_mean, running_var, dx, dgamma, dbeta);
    case Backend::cuda: throw_no_cuda_kernel("batch_norm_eval_backward");  // CUDA kernel: with the CUDA issue
  }
}

}  // namespace lowbit
