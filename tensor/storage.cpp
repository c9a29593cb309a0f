#include "tensor/storage.h"

#include "tensor/device_memory.h"
#include "tensor/error.h"

namespace lowbit {

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = device.is_cpu() ? cpu_alloc(nbytes) : cuda_alloc(nbytes, device.index);
}

Storage::~Storage() {
  if (device_.is_cpu()) {
    cpu_free(data_, nbytes_);
  } else {
    cuda_free(data_, device_.index);
  }
}

}  // namespace lowbit
