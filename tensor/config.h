// Process-wide switches: thread count and the reference (audit) mode.
#pragma once

namespace lowbit {

// Threads used by our OpenMP kernels and by OpenBLAS (one shared OpenMP pool).
// Default: LOWBIT_NUM_THREADS if set, else the OpenMP default (all cores).
// Results never depend on this number (DESIGN.md, contract 2).
void set_num_threads(int n);
int num_threads();

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

}  // namespace lowbit
