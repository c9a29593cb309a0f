// Raw matmul: NumPy matmul semantics mapped onto the batched GEMM of tensor/kernels/matmul.h.
//
//   [k]       @ [k]        -> []          dot product
//   [k]       @ [..., k,n] -> [..., n]    a gets a leading 1 that is removed afterwards
//   [..., m,k] @ [k]       -> [..., m]    b gets a trailing 1 that is removed afterwards
//   [..., m,k] @ [..., k,n] -> [..., m,n] batch dims broadcast like NumPy
//
// Operands are passed to BLAS without copying whenever their layout allows it: a matrix
// whose last two strides are (ld, 1) is passed as is, one with strides (1, ld) (a
// transposed view) with its trans flag set, and batch dims that step by one common stride
// (including broadcast dims, stride 0) become the batch stride. Anything else is copied
// with contiguous() first. The result is always a new contiguous tensor.
#include <algorithm>
#include <string>

#include "tensor/kernels/matmul.h"
#include "tensor/ops.h"

namespace lowbit::raw {

namespace {

// An operand as the kernel sees it: the (possibly expanded or copied) tensor whose last
// two dims are the matrix, its BLAS layout and the stride between batch entries.
struct GemmOperand {
  Tensor t;
  bool trans = false;
  int64_t ld = 1;
  int64_t batch_stride = 0;
};

// Finds a BLAS layout for the last two dims of x (rows x cols): row-major with unit column
// stride and leading dim ld >= max(1, cols), or its transpose (unit row stride, ld >=
// max(1, rows)). The stride of a dim of size 1 is never used, so it does not count.
bool blas_layout(const Tensor& x, bool& trans, int64_t& ld) {
  const int64_t nd = x.dim();
  const int64_t rows = x.size(nd - 2), cols = x.size(nd - 1);
  const int64_t row_stride = x.stride(nd - 2), col_stride = x.stride(nd - 1);
  if ((cols == 1 || col_stride == 1) && (rows == 1 || row_stride >= std::max<int64_t>(1, cols))) {
    trans = false;
    ld = rows == 1 ? std::max<int64_t>(1, cols) : row_stride;
    return true;
  }
  if ((rows == 1 || row_stride == 1) && (cols == 1 || col_stride >= std::max<int64_t>(1, rows))) {
    trans = true;
    ld = cols == 1 ? std::max<int64_t>(1, rows) : col_stride;
    return true;
  }
  return false;
}

// The one stride S that walks the first `nbatch` dims of x in row-major order (element
// offset of flat batch index i is i * S), if there is one. All-broadcast dims give S = 0.
bool flat_batch_stride(const Tensor& x, int64_t nbatch, int64_t& stride) {
  int64_t span = 1;      // product of the batch sizes inside dim d
  bool known = false;    // set at the innermost batch dim of size > 1
  stride = 0;
  for (int64_t d = nbatch - 1; d >= 0; --d) {
    const int64_t size = x.size(d);
    if (size == 1) continue;
    if (!known) {
      stride = x.stride(d);  // span is 1 here: every dim inside has size 1
      known = true;
    } else if (x.stride(d) != stride * span) {
      return false;
    }
    span *= size;
  }
  return true;
}

// Brings x ([..., rows, cols]) to a layout the kernel accepts, with batch dims `batch`.
GemmOperand prepare(Tensor x, const Shape& batch) {
  GemmOperand op;
  if (!blas_layout(x, op.trans, op.ld)) x = x.contiguous();
  Shape full = batch;
  full.push_back(x.size(-2));
  full.push_back(x.size(-1));
  op.t = x.expand(full);  // broadcast batch dims get stride 0
  const int64_t nbatch = static_cast<int64_t>(batch.size());
  if (!flat_batch_stride(op.t, nbatch, op.batch_stride)) {
    op.t = op.t.contiguous();  // e.g. batch [2,1] broadcast to [2,3]: materialise
    flat_batch_stride(op.t, nbatch, op.batch_stride);
  }
  blas_layout(op.t, op.trans, op.ld);  // always succeeds: the layout is unchanged or contiguous
  return op;
}

// "has 3 columns" for a matrix, "has 3 elements" for a vector (the wording of the error).
std::string inner_extent(const Tensor& x, bool is_a) {
  if (x.dim() == 1) return str_cat("has ", x.size(0), " elements");
  return is_a ? str_cat("has ", x.size(-1), " columns") : str_cat("has ", x.size(-2), " rows");
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  check_same("matmul", a_in, b_in);
  check_float("matmul", a_in);
  LOWBIT_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul: both inputs need at least 1 dim, got a ",
               describe(a_in), " and b ", describe(b_in), " (use mul for scalars)");
  const Tensor a = a_in.dim() == 1 ? a_in.unsqueeze(0) : a_in;  // [k] -> [1,k]
  const Tensor b = b_in.dim() == 1 ? b_in.unsqueeze(1) : b_in;  // [k] -> [k,1]
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  LOWBIT_CHECK(b.size(-2) == k, "matmul: inner dimensions differ: a ", describe(a_in), " ", inner_extent(a_in, true),
               " but b ", describe(b_in), " ", inner_extent(b_in, false));

  // Batch dims: everything before the last two, broadcast from the right.
  const Shape a_batch(a.sizes().begin(), a.sizes().end() - 2), b_batch(b.sizes().begin(), b.sizes().end() - 2);
  const size_t nbatch = std::max(a_batch.size(), b_batch.size());
  Shape batch(nbatch);
  for (size_t i = 0; i < nbatch; ++i) {
    const int64_t sa = i < nbatch - a_batch.size() ? 1 : a_batch[i - (nbatch - a_batch.size())];
    const int64_t sb = i < nbatch - b_batch.size() ? 1 : b_batch[i - (nbatch - b_batch.size())];
    LOWBIT_CHECK(sa == sb || sa == 1 || sb == 1, "matmul: batch dims of a ", describe(a_in), " and b ",
                 describe(b_in), " cannot be broadcast (dim ",
                 static_cast<int64_t>(i) - static_cast<int64_t>(nbatch) - 2, ": ", sa, " vs ", sb, ")");
    batch[i] = sa == 1 ? sb : sa;
  }

  // The result in the 2-D form, and the shape it is viewed as at the end.
  Shape out_shape = batch, result_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  if (a_in.dim() > 1) result_shape.push_back(m);
  if (b_in.dim() > 1) result_shape.push_back(n);
  Tensor out = empty(out_shape, a.dtype(), a.device());
  if (out.numel() == 0) return out.view(result_shape);

  const GemmOperand A = prepare(a, batch), B = prepare(b, batch);
  MatmulParams p;
  p.dtype = a.dtype();
  p.batch = shape_numel(batch);
  p.m = m;
  p.n = n;
  p.k = k;
  p.trans_a = A.trans;
  p.trans_b = B.trans;
  p.lda = A.ld;
  p.ldb = B.ld;
  p.ldc = n;
  p.batch_stride_a = A.batch_stride;
  p.batch_stride_b = B.batch_stride;
  p.batch_stride_c = m * n;
  matmul(a.device(), p, A.t.data_ptr(), B.t.data_ptr(), out.data_ptr());
  return out.view(result_shape);
}

}  // namespace lowbit::raw
