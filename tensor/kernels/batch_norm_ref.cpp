// batch_norm reference: the specification of batch_norm.h, one channel at a time.
// Channel c of a (N, C, S) tensor holds x[n, c, s] = x[(n*C + c)*S + s]; its sums run
// over n, then s, sequentially in one double accumulator. Every per-element formula is
// evaluated in double, left to right as written, and rounded once to the dtype, except the
// eval forward's affine map, which batch_norm.h defines in the dtype.
#include <cmath>

#include "tensor/kernels/batch_norm.h"
#include "tensor/kernels/dtype_switch.h"

namespace lowbit::ref {
namespace {

// p[c] as double, or `otherwise` when the optional tensor p is absent.
template <typename T>
double value_or(const T* p, int64_t c, double otherwise) {
  return p == nullptr ? otherwise : static_cast<double>(p[c]);
}

// The values of channel c: at(n, s) is x[n, c, s].
template <typename T>
struct Channel {
  const T* x;
  int64_t C, S, c;
  T at(int64_t n, int64_t s) const { return x[(n * C + c) * S + s]; }
};

// y[n, c, s] = ((x - mean) * invstd) * g + beta over channel c (training and eval).
template <typename T>
void normalize_channel(const BatchNormParams& p, const T* x, T* y, int64_t c, double mean, double invstd, double g,
                       double b) {
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t s = 0; s < p.plane; ++s) {
      const int64_t i = (n * p.channels + c) * p.plane + s;
      y[i] = static_cast<T>(((static_cast<double>(x[i]) - mean) * invstd) * g + b);
    }
  }
}

// Per channel: the two-pass statistics, y, the saved statistics, the running update.
template <typename T>
void train_typed(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, T* y, T* save_mean,
                 T* save_invstd, T* running_mean, T* running_var) {
  const int64_t M = p.batch * p.plane;  // values per channel
  for (int64_t c = 0; c < p.channels; ++c) {
    const Channel<T> xc{x, p.channels, p.plane, c};
    // Pass 1: mean = (1/M) sum x.
    double sum = 0;
    for (int64_t n = 0; n < p.batch; ++n)
      for (int64_t s = 0; s < p.plane; ++s) sum += static_cast<double>(xc.at(n, s));
    const double mean = sum / static_cast<double>(M);
    // Pass 2: q = sum (x - mean)^2; the biased variance q/M normalises.
    double q = 0;
    for (int64_t n = 0; n < p.batch; ++n) {
      for (int64_t s = 0; s < p.plane; ++s) {
        const double d = static_cast<double>(xc.at(n, s)) - mean;
        q += d * d;
      }
    }
    const double invstd = 1.0 / std::sqrt(q / static_cast<double>(M) + p.eps);
    normalize_channel(p, x, y, c, mean, invstd, value_or(gamma, c, 1.0), value_or(beta, c, 0.0));
    save_mean[c] = static_cast<T>(mean);
    save_invstd[c] = static_cast<T>(invstd);
    // running = (1 - momentum) * running + momentum * statistic, with the unbiased variance.
    if (running_mean != nullptr) {
      const double unbiased_var = q / static_cast<double>(M - 1);
      running_mean[c] =
          static_cast<T>((1 - p.momentum) * static_cast<double>(running_mean[c]) + p.momentum * mean);
      running_var[c] =
          static_cast<T>((1 - p.momentum) * static_cast<double>(running_var[c]) + p.momentum * unbiased_var);
    }
  }
}

// y = act(x * a + b) with the eval coefficients of batch_norm.h, in T.
template <typename T>
void eval_typed(const BatchNormParams& p, const T* x, const T* gamma, const T* beta, const T* running_mean,
                const T* running_var, T* y) {
  for (int64_t c = 0; c < p.channels; ++c) {
    const auto [a, b] = batch_norm_eval_coefficients<T>(static_cast<double>(running_mean[c]),
                                                        static_cast<double>(running_var[c]),
                                                        value_or(gamma, c, 1.0), value_or(beta, c, 0.0), p.eps);
    for (int64_t n = 0; n < p.batch; ++n) {
      for (int64_t s = 0; s < p.plane; ++s) {
        const int64_t i = (n * p.channels + c) * p.plane + s;
        const T ax = x[i] * a;  // two statements: the product is rounded before the sum
        y[i] = batch_norm_act_apply(p.act, static_cast<T>(ax + b));
      }
    }
  }
}

// The two channel sums of backward: sum dy and sum dy * (x - mean).
struct GradSums {
  double dy = 0, dy_xmu = 0;
};
template <typename T>
GradSums grad_sums(const BatchNormParams& p, const T* dy, const T* x, int64_t c, double mean) {
  GradSums g;
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t s = 0; s < p.plane; ++s) {
      const int64_t i = (n * p.channels + c) * p.plane + s;
      g.dy += static_cast<double>(dy[i]);
      g.dy_xmu += static_cast<double>(dy[i]) * (static_cast<double>(x[i]) - mean);
    }
  }
  return g;
}

// Training: dbeta = sum dy, dgamma = sum dy * xhat = invstd * sum dy * (x - mean),
//   dx = (invstd * g / M) * (M * dy - dbeta - xhat * dgamma),  xhat = (x - mean) * invstd.
// Derivation: y = g * xhat + b with xhat = (x - mean) * invstd over the channel's M values;
// d mean/dx_j = 1/M and d invstd/dx_j = -invstd^3 (x_j - mean)/M, so
//   dL/dx_j = g * invstd * (dy_j - (1/M) sum dy - xhat_j * (1/M) sum dy * xhat).
template <typename T>
void backward_typed(const BatchNormParams& p, const T* dy, const T* x, const T* gamma, const T* save_mean,
                    const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  const double M = static_cast<double>(p.batch * p.plane);
  for (int64_t c = 0; c < p.channels; ++c) {
    const double mean = static_cast<double>(save_mean[c]), invstd = static_cast<double>(save_invstd[c]);
    const GradSums sums = grad_sums(p, dy, x, c, mean);
    const double sum_dy_xhat = invstd * sums.dy_xmu;
    if (dgamma != nullptr) dgamma[c] = static_cast<T>(sum_dy_xhat);
    if (dbeta != nullptr) dbeta[c] = static_cast<T>(sums.dy);
    const double k = invstd * value_or(gamma, c, 1.0) / M;
    for (int64_t n = 0; n < p.batch; ++n) {
      for (int64_t s = 0; s < p.plane; ++s) {
        const int64_t i = (n * p.channels + c) * p.plane + s;
        const double xhat = (static_cast<double>(x[i]) - mean) * invstd;
        dx[i] = static_cast<T>(k * (M * static_cast<double>(dy[i]) - sums.dy - xhat * sum_dy_xhat));
      }
    }
  }
}

// Eval: the statistics are constants, dx = dy * (g * invstd); dgamma and dbeta as in training.
template <typename T>
void eval_backward_typed(const BatchNormParams& p, const T* dy, const T* x, const T* gamma, const T* running_mean,
                         const T* running_var, T* dx, T* dgamma, T* dbeta) {
  for (int64_t c = 0; c < p.channels; ++c) {
    const double mean = static_cast<double>(running_mean[c]);
    const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + p.eps);
    const double scale = value_or(gamma, c, 1.0) * invstd;
    for (int64_t n = 0; n < p.batch; ++n) {
      for (int64_t s = 0; s < p.plane; ++s) {
        const int64_t i = (n * p.channels + c) * p.plane + s;
        dx[i] = static_cast<T>(static_cast<double>(dy[i]) * scale);
      }
    }
    if (dgamma == nullptr && dbeta == nullptr) continue;
    const GradSums sums = grad_sums(p, dy, x, c, mean);
    if (dgamma != nullptr) dgamma[c] = static_cast<T>(invstd * sums.dy_xmu);
    if (dbeta != nullptr) dbeta[c] = static_cast<T>(sums.dy);
  }
}

}  // namespace

// Entry points: pick the element type, run the typed loops above. Null optional
// pointers stay null through the casts.
void batch_norm_train(const BatchNormParams& p, const void* x, const void* gamma, const void* beta, void* y,
                      void* save_mean, void* save_invstd, void* running_mean, void* running_var) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    train_typed(p, static_cast<const T*>(x), static_cast<const T*>(gamma), static_cast<const T*>(beta),
                static_cast<T*>(y), static_cast<T*>(save_mean), static_cast<T*>(save_invstd),
                static_cast<T*>(running_mean), static_cast<T*>(running_var));
  });
}
void batch_norm_eval(const BatchNormParams& p, const void* x, const void* gamma, const void* beta,
                     const void* running_mean, const void* running_var, void* y) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    eval_typed(p, static_cast<const T*>(x), static_cast<const T*>(gamma), static_cast<const T*>(beta),
               static_cast<const T*>(running_mean), static_cast<const T*>(running_var), static_cast<T*>(y));
  });
}
void batch_norm_backward(const BatchNormParams& p, const void* dy, const void* x, const void* gamma,
                         const void* save_mean, const void* save_invstd, void* dx, void* dgamma, void* dbeta) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    backward_typed(p, static_cast<const T*>(dy), static_cast<const T*>(x), static_cast<const T*>(gamma),
                   static_cast<const T*>(save_mean), static_cast<const T*>(save_invstd), static_cast<T*>(dx),
                   static_cast<T*>(dgamma), static_cast<T*>(dbeta));
  });
}
void batch_norm_eval_backward(const BatchNormParams& p, const void* dy, const void* x, const void* gamma,
                              const void* running_mean, const void* running_var, void* dx, void* dgamma,
                              void* dbeta) {
  switch_float_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    eval_backward_typed(p, static_cast<const T*>(dy), static_cast<const T*>(x), static_cast<const T*>(gamma),
                        static_cast<const T*>(running_mean), static_cast<const T*>(running_var),
                        static_cast<T*>(dx), static_cast<T*>(dgamma), static_cast<T*>(dbeta));
  });
}

}  // namespace lowbit::ref
