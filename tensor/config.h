// Process-wide switches: thread count and the reference (audit) mode.
#pragma once

namespace lowbit {

// Threads used by our OpenMP kernels and by OpenBLAS (one shared OpenMP pool).
// Default: LOWBIT_NUM_THREADS if set, else the OpenMP default (all cores).
// Results never depend on this number (DESIGN.md, contract 2).
void set_num_threads(int n);
int num_threads();

// The OpenBLAS kernel set in use ("Cooperlake", "SkylakeX", "Haswell", "Zen", ...), for
// benchmark headers and logs; kernels/blas.h says how it is chosen.
const char* blas_core_name();

// Reference mode (DESIGN.md, contract 7): when on, every op on CPU tensors runs its
// scalar reference kernel (`ref::`) instead of the fast one. Initialised from the
// environment variable LOWBIT_REFERENCE (1/true/on). CUDA tensors are not affected:
// their kernels are checked against the reference by the test suite.
void set_reference_mode(bool on);
bool reference_mode();

// RAII guard for tests and the audit command.
class ReferenceModeGuard {
 public:
  explicit ReferenceModeGuard(bool on);
  ~ReferenceModeGuard();
  ReferenceModeGuard(const ReferenceModeGuard&) = delete;
  ReferenceModeGuard& operator=(const ReferenceModeGuard&) = delete;

 private:
  bool previous_;
};

// Winograd F(4x4, 3x3) for f32 3x3 stride-1 convolutions on the CPU (forward, backward
// input and backward weight; kernels/conv2d_winograd_cpu.cpp): about 4x fewer GEMM flops, at the cost
// of a looser error bound than im2col's (tests/conv2d_winograd_test.cpp states both). On by
// default; off to audit or to compare bits with another im2col implementation. Initialised
// from LOWBIT_WINOGRAD (0/false/off disables it).
void set_winograd_enabled(bool on);
bool winograd_enabled();

}  // namespace lowbit
