#include "tensor/kernels/elementwise.h"

#include "tensor/error.h"

namespace lowbit {

ElementwiseLayout make_layout(const Shape& sizes, std::initializer_list<const Shape*> strides) {
  ElementwiseLayout L;
  L.noperands = static_cast<int>(strides.size());
  LOWBIT_CHECK(L.noperands <= kMaxOperands, "make_layout: too many operands");
  L.numel = shape_numel(sizes);
  // Keep dims of size != 1 (a size-1 dim contributes nothing to any offset).
  int64_t kept_sizes[64];
  int64_t kept_strides[kMaxOperands][64];
  int n = 0;
  LOWBIT_CHECK(sizes.size() <= 64, "make_layout: too many dims (", sizes.size(), ")");
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1) continue;
    kept_sizes[n] = sizes[d];
    int k = 0;
    for (const Shape* s : strides) kept_strides[k++][n] = (*s)[d];
    ++n;
  }
  if (L.numel == 0) {  // nothing to iterate; one dim of size 0 keeps the loops trivial
    L.ndim = 1;
    L.sizes[0] = 0;
    return L;
  }
  // Merge dim d into the following dim when every operand steps through it contiguously.
  int m = 0;  // number of merged dims written so far
  for (int d = 0; d < n; ++d) {
    if (m > 0) {
      bool mergeable = true;
      for (int k = 0; k < L.noperands; ++k)
        if (L.strides[k][m - 1] != kept_strides[k][d] * kept_sizes[d]) mergeable = false;
      if (mergeable) {
        L.sizes[m - 1] *= kept_sizes[d];
        for (int k = 0; k < L.noperands; ++k) L.strides[k][m - 1] = kept_strides[k][d];
        continue;
      }
    }
    LOWBIT_CHECK(m < kMaxDims, "elementwise op: more than ", kMaxDims,
                 " dims remain after merging contiguous ones (shape ", shape_str(sizes), ")");
    L.sizes[m] = kept_sizes[d];
    for (int k = 0; k < L.noperands; ++k) L.strides[k][m] = kept_strides[k][d];
    ++m;
  }
  L.ndim = m;
  return L;
}

}  // namespace lowbit
