// The iteration layout shared by every elementwise kernel (copy, unary, binary, where).
//
// An elementwise op walks one shape with one stride vector per operand (operand 0 is
// the output). Broadcast inputs have stride 0 along broadcast dims, views have any
// strides. make_layout() drops size-1 dims and merges adjacent dims that are contiguous
// for every operand, so a same-shape contiguous op becomes a single dim of length numel
// and x[N,C,H,W] + b[1,C,1,1] becomes [N, C, H*W] with b's strides (0, 1, 0).
//
// Plain data only (no pointers), so the struct can be passed by value to a CUDA kernel.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "tensor/shape.h"

namespace lowbit {

constexpr int kMaxDims = 16;
constexpr int kMaxOperands = 4;

struct ElementwiseLayout {
  int ndim = 0;        // after coalescing; 0 means a single element (or none if numel == 0)
  int noperands = 0;
  int64_t numel = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxOperands][kMaxDims] = {};  // in elements, [operand][dim]

  int64_t inner_size() const { return ndim == 0 ? 1 : sizes[ndim - 1]; }
  int64_t inner_stride(int operand) const { return ndim == 0 ? 0 : strides[operand][ndim - 1]; }
  int64_t outer_count() const { return inner_size() == 0 ? 0 : numel / inner_size(); }

  // Element offsets of every operand for the element with linear (row-major) index i.
  void offsets(int64_t i, int64_t* out) const {
    for (int k = 0; k < noperands; ++k) out[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t coord = i % sizes[d];
      i /= sizes[d];
      for (int k = 0; k < noperands; ++k) out[k] += coord * strides[k][d];
    }
  }
};

// `sizes` is the iteration (output) shape; `strides[k]` the strides of operand k viewed
// at that shape (broadcast already applied: 0 where operand k is broadcast).
ElementwiseLayout make_layout(const Shape& sizes, std::initializer_list<const Shape*> strides);

}  // namespace lowbit
