// Raw batch norm ops: argument checks, the (N, C, S) view, and the calls into
// tensor/kernels/batch_norm.h. Running statistics are updated in place.
#include <string>
#include <utility>

#include "tensor/kernels/batch_norm.h"
#include "tensor/ops.h"
#include "tensor/ops_nn.h"

namespace lowbit::raw {
namespace {

// x is a defined f32/f64 tensor [N, C, ...]; returns the kernel's view of it.
BatchNormParams check_input(const char* op, const Tensor& x) {
  check_float(op, x);
  LOWBIT_CHECK(x.dim() >= 2, op, ": expected an input of at least 2 dims [N, C, ...], got ", describe(x));
  BatchNormParams p;
  p.dtype = x.dtype();
  p.batch = x.size(0);
  p.channels = x.size(1);
  p.plane = 1;
  for (int64_t d = 2; d < x.dim(); ++d) p.plane *= x.size(d);
  return p;
}

// A per-channel tensor `name` (gamma, running_mean, ...): if defined (or `required`),
// [C] with the dtype and device of x.
void check_channel_tensor(const char* op, const char* name, const Tensor& t, const Tensor& x, bool required) {
  LOWBIT_CHECK(t.defined() || !required, op, ": ", name, " is undefined (input ", describe(x), ")");
  if (!t.defined()) return;
  LOWBIT_CHECK(t.device() == x.device(), op, ": ", name, " and the input are on different devices (", name, " ",
               describe(t), ", input ", describe(x), "); move one with .to(device)");
  LOWBIT_CHECK(t.dtype() == x.dtype(), op, ": ", name, " is ", dtype_name(t.dtype()), " but the input is ",
               dtype_name(x.dtype()), " (", name, " ", describe(t), ", input ", describe(x), "); cast with .to(dtype)");
  LOWBIT_CHECK(t.dim() == 1 && t.size(0) == x.size(1), op, ": ", name, " ", describe(t), " should be [", x.size(1),
               "], one value per channel of the input ", describe(x));
}

// grad_out matches x in shape, dtype and device.
void check_grad_out(const char* op, const Tensor& grad_out, const Tensor& x) {
  check_float(op, grad_out);
  check_same(op, grad_out, x);
  LOWBIT_CHECK(grad_out.sizes() == x.sizes(), op, ": grad_out ", describe(grad_out), " does not match the input ",
               describe(x));
}

// Pointer to the data of an optional (contiguous) tensor; null when undefined.
void* data_or_null(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }
Tensor contiguous_or_undefined(const Tensor& t) { return t.defined() ? t.contiguous() : Tensor(); }

}  // namespace

BatchNormOutput batch_norm_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                 const Tensor& running_mean, const Tensor& running_var, double momentum, double eps) {
  const char* op = "batch_norm_train";
  BatchNormParams p = check_input(op, x);
  check_channel_tensor(op, "gamma", gamma, x, false);
  check_channel_tensor(op, "beta", beta, x, false);
  check_channel_tensor(op, "running_mean", running_mean, x, false);
  check_channel_tensor(op, "running_var", running_var, x, false);
  LOWBIT_CHECK(running_mean.defined() == running_var.defined(), op,
               ": running_mean and running_var must be given together (or both left undefined)");
  LOWBIT_CHECK(p.batch * p.plane > 1, op, ": expected more than 1 value per channel when training, got input ",
               describe(x));
  p.eps = eps;
  p.momentum = momentum;
  const Tensor input = x.contiguous(), g = contiguous_or_undefined(gamma), b = contiguous_or_undefined(beta);
  // The kernel updates contiguous statistics; others are updated through a copy.
  Tensor rm = contiguous_or_undefined(running_mean), rv = contiguous_or_undefined(running_var);
  BatchNormOutput out;
  out.y = empty(x.sizes(), x.dtype(), x.device());
  out.mean = empty({p.channels}, x.dtype(), x.device());
  out.invstd = empty({p.channels}, x.dtype(), x.device());
  lowbit::batch_norm_train(x.device(), p, input.data_ptr(), data_or_null(g), data_or_null(b), out.y.data_ptr(),
                           out.mean.data_ptr(), out.invstd.data_ptr(), data_or_null(rm), data_or_null(rv));
  for (auto [target, updated] : {std::pair{running_mean, rm}, std::pair{running_var, rv}}) {
    if (!target.defined()) continue;
    if (!updated.same_impl(target)) target.copy_(updated);  // a non-contiguous statistic
    target.bump_version();
  }
  return out;
}

Tensor batch_norm_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                       const Tensor& running_var, double eps, BatchNormAct act) {
  const char* op = "batch_norm_eval";
  BatchNormParams p = check_input(op, x);
  check_channel_tensor(op, "gamma", gamma, x, false);
  check_channel_tensor(op, "beta", beta, x, false);
  check_channel_tensor(op, "running_mean", running_mean, x, true);
  check_channel_tensor(op, "running_var", running_var, x, true);
  p.eps = eps;
  p.act = act;
  const Tensor input = x.contiguous(), g = contiguous_or_undefined(gamma), b = contiguous_or_undefined(beta);
  const Tensor rm = running_mean.contiguous(), rv = running_var.contiguous();
  Tensor y = empty(x.sizes(), x.dtype(), x.device());
  lowbit::batch_norm_eval(x.device(), p, input.data_ptr(), data_or_null(g), data_or_null(b), rm.data_ptr(),
                          rv.data_ptr(), y.data_ptr());
  return y;
}

namespace {

// The shared part of both backward ops: checks, then kernel(p, dy, x, gamma, stat1, stat2, grads).
template <typename Kernel>
BatchNormGrads run_backward(const char* op, const Tensor& grad_out, const Tensor& x, const Tensor& gamma,
                            const char* name1, const Tensor& stat1, const char* name2, const Tensor& stat2, double eps,
                            Kernel&& kernel) {
  BatchNormParams p = check_input(op, x);
  check_grad_out(op, grad_out, x);
  check_channel_tensor(op, "gamma", gamma, x, false);
  check_channel_tensor(op, name1, stat1, x, true);
  check_channel_tensor(op, name2, stat2, x, true);
  p.eps = eps;
  const Tensor dy = grad_out.contiguous(), input = x.contiguous(), g = contiguous_or_undefined(gamma);
  const Tensor s1 = stat1.contiguous(), s2 = stat2.contiguous();
  BatchNormGrads grads;
  grads.dx = empty(x.sizes(), x.dtype(), x.device());
  grads.dgamma = empty({p.channels}, x.dtype(), x.device());
  grads.dbeta = empty({p.channels}, x.dtype(), x.device());
  kernel(x.device(), p, dy.data_ptr(), input.data_ptr(), data_or_null(g), s1.data_ptr(), s2.data_ptr(),
         grads.dx.data_ptr(), grads.dgamma.data_ptr(), grads.dbeta.data_ptr());
  return grads;
}

}  // namespace

BatchNormGrads batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& gamma,
                                   const Tensor& save_mean, const Tensor& save_invstd) {
  return run_backward("batch_norm_backward", grad_out, x, gamma, "save_mean", save_mean, "save_invstd", save_invstd,
                      0.0, [](auto&&... args) { lowbit::batch_norm_backward(args...); });
}

BatchNormGrads batch_norm_eval_backward(const Tensor& grad_out, const Tensor& x, const Tensor& gamma,
                                        const Tensor& running_mean, const Tensor& running_var, double eps) {
  return run_backward("batch_norm_eval_backward", grad_out, x, gamma, "running_mean", running_mean, "running_var",
                      running_var, eps, [](auto&&... args) { lowbit::batch_norm_eval_backward(args...); });
}

}  // namespace lowbit::raw
