#include "autograd/gradcheck.h"

#include <cmath>
#include <limits>

#include "autograd/grad_mode.h"
#include "autograd/variable.h"

namespace lowbit {
namespace {

// The multi-index of flat (row-major) element k of a tensor of shape sizes.
Shape unravel(int64_t k, const Shape& sizes) {
  Shape index(sizes.size());
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    index[d] = k % sizes[d];
    k /= sizes[d];
  }
  return index;
}

// A 0-d view of flat element k of x (works on any device, any strides).
Tensor element(const Tensor& x, int64_t k) {
  const Shape index = unravel(k, x.sizes());
  int64_t offset = x.offset();
  for (size_t d = 0; d < index.size(); ++d) offset += index[d] * x.strides()[d];
  return x.as_strided({}, {}, offset);
}

// A private copy of x in a new buffer with x's strides and offset, so the layout the op
// sees is the caller's while the caller's data is never touched.
Tensor copy_with_strides(const Tensor& x, size_t which) {
  int64_t last = x.offset();
  for (int64_t d = 0; d < x.dim(); ++d) {
    LOWBIT_CHECK(x.strides()[d] != 0 || x.sizes()[d] <= 1, "gradcheck: input ", which, " ", describe(x),
                 " is a broadcast view (stride 0 in dim ", d, "): its elements share memory and cannot be perturbed "
                 "one at a time; pass .contiguous()");
    last += (x.sizes()[d] - 1) * x.strides()[d];
  }
  Tensor buffer = zeros({x.numel() == 0 ? 0 : last + 1}, x.dtype(), x.device());
  Tensor copy = buffer.as_strided(x.sizes(), x.strides(), x.offset());
  copy.copy_(x);
  return copy;
}

std::vector<double> evaluate(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                             const std::vector<Tensor>& inputs, int64_t n_out) {
  const Tensor y = f(inputs);
  LOWBIT_CHECK(y.defined() && y.numel() == n_out, "gradcheck: f returned ", describe(y),
               " for perturbed inputs but ", n_out, " elements the first time");
  return y.to_vector<double>();
}

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& inputs,
                          double eps, double atol, double rtol) {
  // The differentiated inputs: private f64 leaves; the rest pass through.
  std::vector<Tensor> args(inputs.size());
  std::vector<size_t> vars;  // indices of the differentiated inputs
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    LOWBIT_CHECK(x.defined(), "gradcheck: input ", i, " is undefined");
    if (!is_floating(x.dtype())) {
      args[i] = x;
      continue;
    }
    LOWBIT_CHECK(x.dtype() == DType::f64, "gradcheck: input ", i, " is ", describe(x),
                 "; gradcheck runs in f64 (cast with .to(DType::f64))");
    args[i] = copy_with_strides(x, i);
    set_requires_grad(args[i]);
    vars.push_back(i);
  }
  LOWBIT_CHECK(!vars.empty(), "gradcheck: no f64 input to differentiate");

  // Analytic Jacobian, jac[v][k * n_out + j] = d y_j / d (input vars[v])_k.
  Tensor y = f(args);
  LOWBIT_CHECK(y.defined() && y.dtype() == DType::f64, "gradcheck: f must return an f64 tensor, got ", describe(y));
  const Shape out_sizes = y.sizes();
  const int64_t n_out = y.numel();
  std::vector<std::vector<double>> analytic(vars.size()), numeric(vars.size());
  for (size_t v = 0; v < vars.size(); ++v) {
    analytic[v].assign(static_cast<size_t>(args[vars[v]].numel() * n_out), 0.0);
    numeric[v].assign(analytic[v].size(), 0.0);
  }
  if (requires_grad(y)) {
    for (int64_t j = 0; j < n_out; ++j) {
      Tensor one_hot = zeros(out_sizes, DType::f64, y.device());
      element(one_hot, j).fill_(1);
      for (size_t v : vars) args[v].impl().autograd->grad = Tensor();
      backward(y, one_hot, /*retain_graph=*/true);
      for (size_t v = 0; v < vars.size(); ++v) {
        const Tensor g = grad(args[vars[v]]);
        if (!g.defined()) continue;  // y does not depend on this input
        const std::vector<double> row = g.to_vector<double>();
        for (size_t k = 0; k < row.size(); ++k) analytic[v][k * n_out + j] = row[k];
      }
    }
  }
  y = Tensor();  // frees the graph before the inputs are modified in place below

  // Numeric Jacobian by central differences.
  {
    NoGradGuard no_grad;
    for (size_t v = 0; v < vars.size(); ++v) {
      const Tensor& x = args[vars[v]];
      for (int64_t k = 0; k < x.numel(); ++k) {
        Tensor xk = element(x, k);
        const double x0 = xk.item();
        xk.fill_(x0 + eps);
        const std::vector<double> plus = evaluate(f, args, n_out);
        xk.fill_(x0 - eps);
        const std::vector<double> minus = evaluate(f, args, n_out);
        xk.fill_(x0);
        for (int64_t j = 0; j < n_out; ++j) numeric[v][k * n_out + j] = (plus[j] - minus[j]) / (2 * eps);
      }
    }
  }

  // Compare; keep the entry furthest outside its tolerance.
  GradcheckResult r;
  double worst = 0;
  for (size_t v = 0; v < vars.size(); ++v) {
    for (size_t e = 0; e < analytic[v].size(); ++e) {
      const double a = analytic[v][e], n = numeric[v][e];
      const double bound = atol + rtol * std::fabs(n);
      const double diff = std::fabs(a - n);
      const double excess = std::isnan(diff) ? std::numeric_limits<double>::infinity() : diff / bound;
      if (!(diff <= bound)) {
        ++r.failures;
        if (r.failures == 1 || excess > worst) {
          worst = excess;
          r.input = static_cast<int64_t>(vars[v]);
          r.input_index = unravel(static_cast<int64_t>(e) / n_out, args[vars[v]].sizes());
          r.output_index = unravel(static_cast<int64_t>(e) % n_out, out_sizes);
          r.analytic = a;
          r.numeric = n;
        }
      }
    }
  }
  if (r.failures == 0) return r;
  int64_t entries = 0;
  for (const auto& jac : analytic) entries += static_cast<int64_t>(jac.size());
  r.ok = false;
  r.message = str_cat("gradcheck: analytic and numerical Jacobians differ in ", r.failures, " of ", entries,
                      " entries; worst: d output", shape_str(r.output_index), " / d input ", r.input,
                      shape_str(r.input_index), ": analytic ", r.analytic, ", numeric ", r.numeric, " (|difference| ",
                      std::fabs(r.analytic - r.numeric), " > atol ", atol, " + rtol ", rtol, " * |numeric|)");
  return r;
}

}  // namespace lowbit
