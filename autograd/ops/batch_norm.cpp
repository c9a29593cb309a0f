// batch_norm over dim 1 of x [N, C, ...]: forward and backward are the raw kernels of
// tensor/ops_nn.h (formulas in tensor/kernels/batch_norm.h). gamma and beta are optional
// and only the defined ones become inputs of the node. The running statistics are
// buffers, not inputs: training updates them in place, eval reads them as constants.
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/ops_nn.h"

namespace lowbit {

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  // The stat pair the backward kernel reads: (batch mean, batch invstd) in training, the
  // running (mean, var) in eval.
  Tensor y, stat1, stat2;
  if (training) {
    raw::BatchNormOutput out = raw::batch_norm_train(x, gamma, beta, running_mean, running_var, momentum, eps);
    y = out.y, stat1 = out.mean, stat2 = out.invstd;
  } else {
    y = raw::batch_norm_eval(x, gamma, beta, running_mean, running_var, eps);
    stat1 = running_mean, stat2 = running_var;
  }
  std::vector<Tensor> inputs = {x};  // x, then gamma and beta when defined
  if (gamma.defined()) inputs.push_back(gamma);
  if (beta.defined()) inputs.push_back(beta);
  if (!any_requires_grad(inputs)) return y;
  const char* name = "batch_norm";
  // With xhat = (x - mean) * invstd and M values per channel (tensor/kernels/batch_norm.h):
  //   dbeta = sum dy,  dgamma = sum dy * xhat,
  //   training: dx = (invstd * gamma / M) * (M dy - dbeta - xhat dgamma)   (mean, var depend on x)
  //   eval:     dx = dy * gamma * invstd                                   (constant statistics)
  return record(name, y, inputs,
                [training, eps, has_gamma = gamma.defined(), has_beta = beta.defined(), saved_x = SavedTensor(x, name),
                 saved_gamma = gamma.defined() ? SavedTensor(gamma, name) : SavedTensor(),
                 saved_stat1 = SavedTensor(stat1, name), saved_stat2 = SavedTensor(stat2, name)](
                    const Tensor& gy) -> Grads {
                  const Tensor& x = saved_x.get();
                  const Tensor gamma = saved_gamma.defined() ? saved_gamma.get() : Tensor();
                  const Tensor &stat1 = saved_stat1.get(), &stat2 = saved_stat2.get();
                  const raw::BatchNormGrads g = training
                                                    ? raw::batch_norm_backward(gy, x, gamma, stat1, stat2)
                                                    : raw::batch_norm_eval_backward(gy, x, gamma, stat1, stat2, eps);
                  Grads grads = {g.dx};
                  if (has_gamma) grads.push_back(g.dgamma);
                  if (has_beta) grads.push_back(g.dbeta);
                  return grads;
                });
}

}  // namespace lowbit
