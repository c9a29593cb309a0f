// Binary ops: y = a op b with NumPy broadcasting. Each backward computes the gradient
// in the broadcast shape and sums it back to the operand's shape (sum_to). Operands that
// do not require grad get no gradient and are not saved.
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/ops.h"

namespace lowbit {

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = raw::add(a, b);
  if (!any_requires_grad({a, b})) return y;
  const bool need_a = requires_grad(a), need_b = requires_grad(b);
  // d(a+b)/da = 1, d(a+b)/db = 1
  return record("add", y, {a, b},
                [need_a, need_b, a_sizes = a.sizes(), b_sizes = b.sizes()](const Tensor& gy) -> Grads {
                  return {need_a ? sum_to(gy, a_sizes) : Tensor(), need_b ? sum_to(gy, b_sizes) : Tensor()};
                });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = raw::sub(a, b);
  if (!any_requires_grad({a, b})) return y;
  const bool need_a = requires_grad(a), need_b = requires_grad(b);
  // d(a-b)/da = 1, d(a-b)/db = -1
  return record("sub", y, {a, b},
                [need_a, need_b, a_sizes = a.sizes(), b_sizes = b.sizes()](const Tensor& gy) -> Grads {
                  return {need_a ? sum_to(gy, a_sizes) : Tensor(), need_b ? sum_to(raw::neg(gy), b_sizes) : Tensor()};
                });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = raw::mul(a, b);
  if (!any_requires_grad({a, b})) return y;
  const bool need_a = requires_grad(a), need_b = requires_grad(b);
  // d(a*b)/da = b, d(a*b)/db = a
  return record("mul", y, {a, b},
                [need_a, need_b, a_sizes = a.sizes(), b_sizes = b.sizes(),
                 saved_a = need_b ? SavedTensor(a, "mul") : SavedTensor(),
                 saved_b = need_a ? SavedTensor(b, "mul") : SavedTensor()](const Tensor& gy) -> Grads {
                  return {need_a ? sum_to(raw::mul(gy, saved_b.get()), a_sizes) : Tensor(),
                          need_b ? sum_to(raw::mul(gy, saved_a.get()), b_sizes) : Tensor()};
                });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = raw::div(a, b);
  if (!any_requires_grad({a, b})) return y;
  const bool need_a = requires_grad(a), need_b = requires_grad(b);
  // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
  return record("div", y, {a, b},
                [need_a, need_b, a_sizes = a.sizes(), b_sizes = b.sizes(),
                 saved_a = need_b ? SavedTensor(a, "div") : SavedTensor(),
                 saved_b = SavedTensor(b, "div")](const Tensor& gy) -> Grads {
                  const Tensor& b = saved_b.get();
                  Grads g(2);
                  if (need_a) g[0] = sum_to(raw::div(gy, b), a_sizes);
                  if (need_b) g[1] = sum_to(raw::neg(raw::div(raw::mul(gy, saved_a.get()), raw::mul(b, b))), b_sizes);
                  return g;
                });
}

// ---- with a scalar (a 0-d constant of a's dtype; only a can need a gradient) ----

Tensor add(const Tensor& a, double b) {
  Tensor y = raw::add(a, b);
  if (!any_requires_grad({a})) return y;
  // d(a+s)/da = 1
  return record("add", y, {a}, [](const Tensor& gy) -> Grads { return {gy}; });
}

Tensor sub(const Tensor& a, double b) {
  Tensor y = raw::sub(a, b);
  if (!any_requires_grad({a})) return y;
  // d(a-s)/da = 1
  return record("sub", y, {a}, [](const Tensor& gy) -> Grads { return {gy}; });
}

Tensor mul(const Tensor& a, double b) {
  Tensor y = raw::mul(a, b);
  if (!any_requires_grad({a})) return y;
  // d(a*s)/da = s
  return record("mul", y, {a}, [b](const Tensor& gy) -> Grads { return {raw::mul(gy, b)}; });
}

Tensor div(const Tensor& a, double b) {
  Tensor y = raw::div(a, b);
  if (!any_requires_grad({a})) return y;
  // d(a/s)/da = 1/s
  return record("div", y, {a}, [b](const Tensor& gy) -> Grads { return {raw::div(gy, b)}; });
}

// ---- minimum / maximum ----

// d max(a,b)/da = 1 where a wins, 1/2 at a tie (a == b), 0 where b wins; d/db = 1 - d/da.
// `a_wins` is a > b for maximum and a < b for minimum.
static Tensor extremum(bool is_max, const Tensor& a, const Tensor& b) {
  Tensor y = is_max ? raw::maximum(a, b) : raw::minimum(a, b);
  if (!any_requires_grad({a, b})) return y;
  const bool need_a = requires_grad(a), need_b = requires_grad(b);
  const char* name = is_max ? "maximum" : "minimum";
  return record(name, y, {a, b},
                [need_a, need_b, is_max, a_sizes = a.sizes(), b_sizes = b.sizes(), saved_a = SavedTensor(a, name),
                 saved_b = SavedTensor(b, name)](const Tensor& gy) -> Grads {
                  const Tensor &a = saved_a.get(), &b = saved_b.get();
                  const Tensor a_wins = is_max ? raw::gt(a, b) : raw::lt(a, b);
                  const Tensor share_a = raw::where(a_wins, scalar_like(gy, 1),
                                                    raw::where(raw::eq(a, b), scalar_like(gy, 0.5), scalar_like(gy, 0)));
                  const Tensor ga = raw::mul(gy, share_a);
                  return {need_a ? sum_to(ga, a_sizes) : Tensor(), need_b ? sum_to(raw::sub(gy, ga), b_sizes) : Tensor()};
                });
}

Tensor minimum(const Tensor& a, const Tensor& b) { return extremum(/*is_max=*/false, a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return extremum(/*is_max=*/true, a, b); }

// ---- comparisons: bool results, never recorded ----

Tensor eq(const Tensor& a, const Tensor& b) { return raw::eq(a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return raw::ne(a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return raw::lt(a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return raw::le(a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return raw::gt(a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return raw::ge(a, b); }

// ---- operators ----

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return add(neg(b), a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(b, a), b); }
Tensor operator-(const Tensor& x) { return neg(x); }

}  // namespace lowbit
