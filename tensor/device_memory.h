// Device memory: the 64-byte aligned host allocator and the CUDA caching allocator.
//
// The CUDA functions are implemented in device_memory_cuda.cu when lowbit is built with
// CUDA, and in device_memory_nocuda.cpp otherwise (cuda_device_count() is then 0 and
// every other CUDA call raises lowbit::Error saying the build has no CUDA backend).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace lowbit {

constexpr size_t kCpuAlignment = 64;  // one cache line; also an AVX-512 vector

// Host memory. Blocks below 1 MiB come from malloc (64-byte aligned). Larger blocks are
// 2 MiB aligned, backed by transparent huge pages where the kernel allows (madvise), and
// recycled: a freed large block goes to a cache and serves a later request of up to its
// size (and at least half of it), so a training step that allocates the same activations
// every iteration stops paying page faults after the first. The cache holds at most
// LOWBIT_CPU_CACHE_MB megabytes (default 4096); beyond that, freed blocks go back to the OS.
void* cpu_alloc(size_t nbytes);  // never returns null (throws lowbit::Error)
void cpu_free(void* p, size_t nbytes);  // p and nbytes as given to/by cpu_alloc (p may be null)
void cpu_empty_cache();          // returns every cached block to the OS

struct CpuMemoryStats {
  uint64_t allocated_bytes = 0;       // in tensors right now (block sizes)
  uint64_t cached_bytes = 0;          // freed large blocks kept for reuse
  uint64_t peak_allocated_bytes = 0;  // of large blocks (small ones are not tracked over time)
  uint64_t num_allocs = 0;            // cpu_alloc calls
  uint64_t num_cache_hits = 0;        // large requests served from the cache
};
CpuMemoryStats cpu_memory_stats();

// ---- CUDA ----
bool built_with_cuda();
int cuda_device_count();  // 0 when built without CUDA or when no GPU is visible

// Caching allocator: freed blocks go back to a per-device pool and are reused by later
// allocations of a similar size, so ops never call cudaMalloc/cudaFree in steady state.
void* cuda_alloc(size_t nbytes, int device);
void cuda_free(void* p, int device);
void cuda_empty_cache();  // returns every cached, unused block to the driver

struct CudaMemoryStats {
  uint64_t allocated_bytes = 0;       // handed out to tensors right now
  uint64_t reserved_bytes = 0;        // held from the driver (allocated + cached)
  uint64_t peak_allocated_bytes = 0;
  uint64_t num_allocs = 0;            // cuda_alloc calls
  uint64_t num_cache_hits = 0;        // served from the pool, no cudaMalloc
  uint64_t num_device_mallocs = 0;    // cudaMalloc calls
  uint64_t num_device_frees = 0;      // cudaFree calls (empty_cache or out-of-memory retry)
};
CudaMemoryStats cuda_memory_stats(int device);
std::string cuda_memory_summary(int device);  // printable table of the stats above

// Page-locked ("pinned") host memory (cudaHostAlloc): host-to-device copies from it run
// at full PCIe speed and can overlap with kernels, which is why data loaders assemble
// batches in it. cudaHostAlloc is slow (it maps the pages for the GPU), so freed blocks are
// cached and reused like cpu_alloc's large blocks (best fit, at most twice the request);
// cuda_empty_cache() releases them. cuda_host_alloc throws without a CUDA device.
void* cuda_host_alloc(size_t nbytes);
void cuda_host_free(void* p, size_t nbytes);

enum class CopyKind { host_to_device, device_to_host, device_to_device };
void cuda_memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind);
void cuda_synchronize();

}  // namespace lowbit
