#include "tensor/storage.h"

#include <cstdlib>
#include <new>

#include "tensor/device_memory.h"
#include "tensor/error.h"

namespace lowbit {

void* cpu_alloc(size_t nbytes) {
  // Round up: aligned_alloc requires a multiple of the alignment; never ask for 0 bytes,
  // so every storage has a valid, aligned pointer.
  const size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
  void* p = std::aligned_alloc(kCpuAlignment, rounded == 0 ? kCpuAlignment : rounded);
  LOWBIT_CHECK(p != nullptr, "cpu_alloc: out of host memory allocating ", nbytes, " bytes");
  return p;
}

void cpu_free(void* p) { std::free(p); }

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = device.is_cpu() ? cpu_alloc(nbytes) : cuda_alloc(nbytes, device.index);
}

Storage::~Storage() {
  if (device_.is_cpu()) {
    cpu_free(data_);
  } else {
    cuda_free(data_, device_.index);
  }
}

}  // namespace lowbit
