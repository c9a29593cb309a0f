// reduce: sum, mean, var, max, min, argmax and aminmax over the middle dim of a
// contiguous input viewed as [outer, reduce, inner]; the output is [outer, inner].
//
// The op layer (tensor/ops/reduce.cpp) brings any reduction to this form: when the
// reduced dims are one block of adjacent dims of a contiguous tensor it is a free view
// (sum over dim 0 of [N, C] is [1, N, C]; over the last dim it is [N, C, 1]); otherwise
// it permutes the reduced dims last and copies to [outer, reduce, 1].
//
// Output dtypes: sum of an integer or bool tensor is i64, else the input dtype; mean and
// var need f32/f64; max/min keep the dtype; argmax is i64; aminmax writes min to `out`
// and max to `out2`.
//
// Numerics (the contract the fast paths are tested against):
//   - sum/mean/var of f32 accumulate in f64 (then round once to f32); f64 in f64.
//   - var is two-pass: mean first, then the sum of squared deviations, divided by
//     max(reduce - correction, 0) (0/0 gives NaN, as PyTorch).
//   - max/min/aminmax propagate NaN (the first NaN of the reduced values, bit for bit);
//     argmax returns the first maximum, and NaN counts as the maximum (the first NaN
//     wins), like torch.argmax. All four order +0 above -0 (IEEE 754-2019 maximum /
//     minimum), so the result never depends on the order of evaluation and
//     max(x) == x[argmax(x)] bit for bit. (torch.argmax keeps the first of -0/+0.)
//   - The fast paths agree with ref:: exactly for max/min/aminmax/argmax and integer
//     sums; float sum/mean/var up to rounding (the bound is in tests/reduce_test.cpp).
//   - reduce == 0: sum is 0, mean/var NaN; max/min/argmax/aminmax are errors (op layer).
//   - Determinism: the order in which a row is accumulated depends only on the shape,
//     never on the thread count (fixed blocks combined in a fixed order).
#pragma once

#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/kernels/backend.h"

namespace lowbit {

enum class ReduceOp : uint8_t { sum, mean, var, max, min, argmax, aminmax };
const char* reduce_op_name(ReduceOp op);

struct ReduceParams {
  ReduceOp op = ReduceOp::sum;
  DType dtype = DType::f32;  // of the input
  int64_t outer = 1;
  int64_t reduce = 1;
  int64_t inner = 1;
  int64_t correction = 1;  // var only
};

// The output dtype for op applied to an input of dtype `in`.
DType reduce_out_dtype(ReduceOp op, DType in);

namespace ref { void reduce(const ReduceParams& p, const void* in, void* out, void* out2); }
namespace cpu { void reduce(const ReduceParams& p, const void* in, void* out, void* out2); }
namespace cuda { void reduce(const ReduceParams& p, const void* in, void* out, void* out2); }

inline void reduce(Device device, const ReduceParams& p, const void* in, void* out, void* out2) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::reduce(p, in, out, out2);
    case Backend::cpu: return cpu::reduce(p, in, out, out2);
    case Backend::cuda:
#if LOWBIT_WITH_CUDA
      return cuda::reduce(p, in, out, out2);
#else
      throw_no_cuda("reduce");
#endif
  }
}

}  // namespace lowbit
