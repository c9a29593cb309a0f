#include "tensor/storage.h"

#include "tensor/device_memory.h"
#include "tensor/error.h"

namespace lowbit {

Storage::Storage(size_t nbytes, Device device, bool pinned) : nbytes_(nbytes), device_(device), pinned_(pinned) {
  LOWBIT_CHECK(!pinned || device.is_cpu(), "Storage: pinned memory is host memory, not ", device.str());
  if (pinned) {
    data_ = cuda_host_alloc(nbytes);
  } else {
    data_ = device.is_cpu() ? cpu_alloc(nbytes) : cuda_alloc(nbytes, device.index);
  }
}

Storage::~Storage() {
  if (pinned_) {
    cuda_host_free(data_, nbytes_);
  } else if (device_.is_cpu()) {
    cpu_free(data_, nbytes_);
  } else {
    cuda_free(data_, device_.index);
  }
}

}  // namespace lowbit
