// CPU loop helpers over an ElementwiseLayout, shared by the *_cpu.cpp kernels.
//
// for_each_row_chunk() splits the iteration space into rows along the innermost dim and
// rows into chunks of at most kChunk elements, and runs the chunks on OpenMP threads.
// Each chunk is processed by exactly one thread, and elementwise results do not depend
// on which one, so the output is the same for any thread count.
#pragma once

#include <omp.h>

#include <cstdint>

#include "tensor/kernels/elementwise.h"

namespace lowbit::cpu {

constexpr int64_t kChunk = 16384;            // elements per work item
constexpr int64_t kParallelThreshold = 32768;  // below this, stay on one thread

// fn(const int64_t* offsets, int64_t n): process n elements starting at the given
// element offsets of each operand, stepping by layout.inner_stride(k).
template <typename Fn>
void for_each_row_chunk(const ElementwiseLayout& L, Fn&& fn) {
  if (L.numel == 0) return;
  const int64_t inner = L.inner_size();
  const int64_t rows = L.outer_count();
  const int64_t chunks_per_row = (inner + kChunk - 1) / kChunk;
  const int64_t items = rows * chunks_per_row;
#pragma omp parallel for schedule(static) if (L.numel >= kParallelThreshold)
  for (int64_t item = 0; item < items; ++item) {
    const int64_t row = item / chunks_per_row;
    const int64_t start = (item % chunks_per_row) * kChunk;
    const int64_t n = inner - start < kChunk ? inner - start : kChunk;
    int64_t off[kMaxOperands];
    L.offsets(row * inner, off);
    for (int k = 0; k < L.noperands; ++k) off[k] += start * L.inner_stride(k);
    fn(off, n);
  }
}

}  // namespace lowbit::cpu
