// Which implementation of a kernel runs: the scalar reference, the fast CPU path or CUDA.
// Every kernel header ends with a plain `switch (backend_for(device))` over these.
#pragma once

#include "tensor/config.h"
#include "tensor/device.h"

#ifndef LOWBIT_WITH_CUDA
#define LOWBIT_WITH_CUDA 0
#endif

namespace lowbit {

enum class Backend { ref, cpu, cuda };

// CPU tensors run the reference kernels in reference (audit) mode, else the fast ones.
inline Backend backend_for(Device device) {
  if (device.is_cuda()) return Backend::cuda;
  return reference_mode() ? Backend::ref : Backend::cpu;
}

// Raised when a CUDA tensor reaches a build without the CUDA backend (cannot normally
// happen: such a build cannot create CUDA tensors in the first place).
[[noreturn]] void throw_no_cuda(const char* op);

// Raised by ops whose CUDA kernel is not written yet (even in a build with CUDA).
[[noreturn]] void throw_no_cuda_kernel(const char* op);

}  // namespace lowbit
