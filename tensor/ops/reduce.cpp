// Raw reductions: dims and dtype checks, the [outer, reduce, inner] view, and the call
// into tensor/kernels/reduce.h.
//
// The kernels reduce the middle dim of a contiguous [outer, reduce, inner] tensor. When
// the input is contiguous and the reduced dims are adjacent (size-1 dims do not count),
// that is a free view: outer is the product of the kept dims before them, inner of those
// after. Otherwise the kept dims are permuted first, the reduced dims last, and the
// result is copied to [outer, reduce, 1].
#include <algorithm>
#include <utility>

#include "tensor/kernels/reduce.h"
#include "tensor/ops.h"

namespace lowbit::raw {
namespace {

// What a reduction runs on: the kernel parameters, the (maybe copied) contiguous input
// and the shape of the result.
struct ReducePlan {
  ReduceParams p;
  Tensor input;
  Shape out_shape;
};

ReducePlan plan_reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const char* name = reduce_op_name(op);
  const int64_t nd = x.dim();

  // Which dims are reduced: the listed ones (negative ones count from the end), or all.
  // A 0-d tensor accepts dim 0 (or -1) like PyTorch; either way it reduces its one
  // element (the slot reduced[0] only catches a repeated dim there).
  std::vector<bool> reduced(static_cast<size_t>(std::max<int64_t>(nd, 1)), dims.empty());
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, nd, name);
    LOWBIT_CHECK(!reduced[w], name, ": dim ", d, " appears more than once in dims ", shape_str(dims), " (input ",
                 describe(x), ")");
    reduced[w] = true;
  }

  ReducePlan plan;
  ReduceParams& p = plan.p;
  p.op = op;
  p.dtype = x.dtype();
  p.outer = p.reduce = p.inner = 1;
  // The result keeps the other dims in order (reduced ones as 1 with keepdim).
  Shape kept_dims, reduced_dims;
  for (int64_t d = 0; d < nd; ++d) {
    (reduced[d] ? reduced_dims : kept_dims).push_back(d);
    if (reduced[d]) p.reduce *= x.size(d);
    if (!reduced[d] || keepdim) plan.out_shape.push_back(reduced[d] ? 1 : x.size(d));
  }

  // Free view when contiguous and, ignoring size-1 dims, the reduced dims are one run.
  int64_t first = -1;  // the first reduced dim of size > 1
  bool adjacent = true, run_ended = false;
  for (int64_t d = 0; d < nd; ++d) {
    if (x.size(d) == 1) continue;
    if (reduced[d] && run_ended) adjacent = false;
    if (reduced[d] && first < 0) first = d;
    if (!reduced[d] && first >= 0) run_ended = true;
  }

  // A contiguous [kept before | reduced | kept after] is already [outer, reduce, inner];
  // anything else becomes [kept..., reduced...] = [outer, reduce, 1] by one copy.
  if (x.is_contiguous() && adjacent) {
    for (int64_t d = 0; d < nd; ++d) {
      if (reduced[d]) continue;
      if (first < 0 || d < first) p.outer *= x.size(d);
      else p.inner *= x.size(d);
    }
    plan.input = x;
  } else {
    Shape order = kept_dims;
    order.insert(order.end(), reduced_dims.begin(), reduced_dims.end());
    for (int64_t d : kept_dims) p.outer *= x.size(d);
    plan.input = x.permute(order).contiguous();
  }
  return plan;
}

// Checks, plans and runs one reduction; returns (out, out2), out2 for aminmax only.
// Dtype errors come first, then dims errors, then the empty-reduction error.
std::pair<Tensor, Tensor> run_reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
                                     int64_t correction = 1) {
  const char* name = reduce_op_name(op);
  LOWBIT_CHECK(x.defined(), name, ": undefined input");
  if (op == ReduceOp::mean || op == ReduceOp::var)
    LOWBIT_CHECK(is_floating(x.dtype()), name, ": expected an f32 or f64 tensor, got ", describe(x),
                 "; cast with .to(DType::f32) first");
  ReducePlan plan = plan_reduce(op, x, dims, keepdim);
  plan.p.correction = correction;
  const bool needs_elements = op == ReduceOp::max || op == ReduceOp::min || op == ReduceOp::argmax ||
                              op == ReduceOp::aminmax;
  LOWBIT_CHECK(!needs_elements || plan.p.reduce > 0, name, ": cannot reduce over zero elements (input ",
               describe(x), ", dims ", dims.empty() ? "all" : shape_str(dims), "): the result has no identity");
  const DType out_dtype = reduce_out_dtype(op, x.dtype());
  Tensor out = empty(plan.out_shape, out_dtype, x.device());
  Tensor out2 = op == ReduceOp::aminmax ? empty(plan.out_shape, out_dtype, x.device()) : Tensor();
  reduce(x.device(), plan.p, plan.input.data_ptr(), out.data_ptr(), out2.defined() ? out2.data_ptr() : nullptr);
  return {out, out2};
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return run_reduce(ReduceOp::sum, x, dims, keepdim).first;
}
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return run_reduce(ReduceOp::mean, x, dims, keepdim).first;
}
Tensor var(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  LOWBIT_CHECK(correction >= 0, "var: correction must be >= 0, got ", correction);
  return run_reduce(ReduceOp::var, x, dims, keepdim, correction).first;
}
Tensor max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return run_reduce(ReduceOp::max, x, dims, keepdim).first;
}
Tensor min(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return run_reduce(ReduceOp::min, x, dims, keepdim).first;
}
std::pair<Tensor, Tensor> aminmax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return run_reduce(ReduceOp::aminmax, x, dims, keepdim);
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return run_reduce(ReduceOp::argmax, x, {dim}, keepdim).first;
}
// Over the flattened tensor: the index into x.reshape({-1}), as a 0-d i64 tensor.
Tensor argmax(const Tensor& x) {
  LOWBIT_CHECK(x.defined(), "argmax: undefined input");
  return run_reduce(ReduceOp::argmax, x.reshape({-1}), {0}, false).first;
}

}  // namespace lowbit::raw
