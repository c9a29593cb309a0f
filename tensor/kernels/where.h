// where: out[i] = cond[i] ? a[i] : b[i], with NumPy broadcasting of all three inputs.
// cond is bool (b8); a, b and out share one dtype.
#pragma once

#include "tensor/dtype.h"
#include "tensor/kernels/backend.h"
#include "tensor/kernels/elementwise.h"

namespace lowbit {

struct WhereParams {
  DType dtype = DType::f32;  // of a, b and out
  ElementwiseLayout layout;  // operand 0 = out, 1 = cond, 2 = a, 3 = b
};

namespace ref { void where(const WhereParams& p, void* out, const void* cond, const void* a, const void* b); }
namespace cpu { void where(const WhereParams& p, void* out, const void* cond, const void* a, const void* b); }
namespace cuda { void where(const WhereParams& p, void* out, const void* cond, const void* a, const void* b); }

inline void where(Device device, const WhereParams& p, void* out, const void* cond, const void* a, const void* b) {
  switch (backend_for(device)) {
    case Backend::ref: return ref::where(p, out, cond, a, b);
    case Backend::cpu: return cpu::where(p, out, cond, a, b);
    case Backend::cuda:
#if LOWBIT_WITH_CUDA
      return cuda::where(p, out, cond, a, b);
#else
      throw_no_cuda("where");
#endif
  }
}

}  // namespace lowbit
