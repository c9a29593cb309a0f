// matmul with NumPy semantics (see tensor/ops/matmul.cpp) and linear.
//
// Backward works on the matrix form: a 1-D a is the row [1,k], a 1-D b the column [k,1],
// and the result [..., m, n] with the batch dims broadcast. For Y = A B:
//   dA = dY B^T   ([..., m, k]),   dB = A^T dY   ([..., k, n]),
// each then summed over the batch dims its operand was broadcast along (sum_to) and
// viewed back in the operand's own shape.
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/ops.h"

namespace lowbit {

Tensor matmul(const Tensor& a, const Tensor& b) {
  Tensor y = raw::matmul(a, b);
  if (!any_requires_grad({a, b})) return y;
  const bool need_a = requires_grad(a), need_b = requires_grad(b);
  return record("matmul", y, {a, b},
                [need_a, need_b, saved_a = need_b ? SavedTensor(a, "matmul") : SavedTensor(),
                 saved_b = need_a ? SavedTensor(b, "matmul") : SavedTensor(), a_sizes = a.sizes(), b_sizes = b.sizes()](
                    const Tensor& gy) -> Grads {
                  const bool a_vector = a_sizes.size() == 1, b_vector = b_sizes.size() == 1;
                  // The result's matrix form: put back the dims the vector cases dropped.
                  Tensor gy2 = gy;
                  if (b_vector) gy2 = gy2.unsqueeze(-1);  // [..., m]   -> [..., m, 1]
                  if (a_vector) gy2 = gy2.unsqueeze(-2);  // [..., n]   -> [..., 1, n]
                  Grads g(2);
                  if (need_a) {
                    const Tensor& b = saved_b.get();
                    const Tensor b2 = b_vector ? b.unsqueeze(1) : b;  // [k] -> [k,1]
                    const Shape a2_sizes = a_vector ? Shape{1, a_sizes[0]} : a_sizes;
                    g[0] = sum_to(raw::matmul(gy2, b2.transpose(-1, -2)), a2_sizes).reshape(a_sizes);
                  }
                  if (need_b) {
                    const Tensor& a = saved_a.get();
                    const Tensor a2 = a_vector ? a.unsqueeze(0) : a;  // [k] -> [1,k]
                    const Shape b2_sizes = b_vector ? Shape{b_sizes[0], 1} : b_sizes;
                    g[1] = sum_to(raw::matmul(a2.transpose(-1, -2), gy2), b2_sizes).reshape(b_sizes);
                  }
                  return g;
                });
}

// Composed from recorded ops, so its backward is theirs.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  LOWBIT_CHECK(weight.defined() && weight.dim() == 2, "linear: weight must be 2-D [out, in], got ", describe(weight));
  Tensor y = matmul(x, transpose(weight, 0, 1));
  return bias.defined() ? add(y, bias) : y;
}

}  // namespace lowbit
