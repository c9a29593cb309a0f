// The CUDA half of device_memory.h for builds without the CUDA backend.
#include "tensor/device_memory.h"
#include "tensor/error.h"

namespace lowbit {

static const char* kNoCuda = "this build of lowbit has no CUDA backend (configure with LOWBIT_CUDA=ON on a machine with the CUDA toolkit)";

bool built_with_cuda() { return false; }
int cuda_device_count() { return 0; }
void* cuda_alloc(size_t, int) { throw_error(str_cat("cuda_alloc: ", kNoCuda)); }
void cuda_free(void*, int) {}
void cuda_empty_cache() {}
CudaMemoryStats cuda_memory_stats(int) { throw_error(str_cat("cuda_memory_stats: ", kNoCuda)); }
std::string cuda_memory_summary(int) { return kNoCuda; }
void* cuda_host_alloc(size_t) { throw_error(str_cat("cuda_host_alloc (pinned memory): ", kNoCuda)); }
void cuda_host_free(void*, size_t) {}
void cuda_memcpy(void*, const void*, size_t, CopyKind) { throw_error(str_cat("cuda_memcpy: ", kNoCuda)); }
void cuda_synchronize() {}

}  // namespace lowbit
