// The CUDA half of device_memory.h: device discovery, the caching allocator, memcpy.
//
// Caching allocator (one pool per device, one mutex for all):
//   - sizes are rounded up, to 512 B below 1 MiB and to 2 MiB from 1 MiB on, so tensors
//     of nearly the same size share blocks and the pool holds few distinct sizes;
//   - cuda_free() never calls cudaFree: the block goes into the device's pool, a
//     std::multimap keyed by block size;
//   - cuda_alloc() takes the smallest pooled block that is big enough (best fit), but
//     never one more than twice the rounded request, so a small tensor does not pin a
//     huge block; only when none fits does it call cudaMalloc;
//   - if cudaMalloc runs out of memory, the device's pooled blocks are cudaFree'd and
//     the cudaMalloc is tried once more before raising lowbit::Error.
// The byte counts of CudaMemoryStats are in whole (rounded) blocks.
//
// Why reuse is safe without events: every kernel and copy of lowbit runs on the legacy
// default stream, so work is executed in the order it was issued. A block freed by the
// host (its last kernel possibly still queued) and handed to the next op is only touched
// by kernels issued later, which the stream runs after the earlier ones. (This breaks if
// lowbit is ever compiled with --default-stream per-thread or uses other streams.)
//
// Device selection: cuda_alloc() makes `device` current (cudaSetDevice), and the kernels
// of an op run on the current device. An op allocates its output before launching, so
// its kernels run where its output lives; ops assume all their tensors are on one device.
// In-place ops (copy_, fill_, add_) allocate nothing and run on the device made current
// last: always right with one GPU, a known limitation with several.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "tensor/device_memory.h"
#include "tensor/error.h"

namespace lowbit {

static void check_cuda(cudaError_t err, const char* call) {
  if (err != cudaSuccess) throw_error(str_cat(call, ": ", cudaGetErrorString(err), " (CUDA error ", int(err), ")"));
}

bool built_with_cuda() { return true; }

int cuda_device_count() {
  // Asked once: no driver, no GPU or a broken driver all mean "0 devices", never a crash.
  static const int count = [] {
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
      cudaGetLastError();  // clear the error so it does not surface at the next check
      return 0;
    }
    return n;
  }();
  return count;
}

namespace {

constexpr size_t kSmallRound = 512;                 // granularity below kLargeThreshold
constexpr size_t kLargeThreshold = size_t(1) << 20;  // 1 MiB
constexpr size_t kLargeRound = size_t(2) << 20;      // 2 MiB

size_t round_size(size_t nbytes) {
  if (nbytes == 0) nbytes = 1;  // every storage gets a valid device pointer
  const size_t unit = nbytes < kLargeThreshold ? kSmallRound : kLargeRound;
  return (nbytes + unit - 1) / unit * unit;
}

std::string mib(uint64_t bytes) { return str_cat(static_cast<double>(bytes) / (1 << 20), " MiB"); }

struct DevicePool {
  std::multimap<size_t, void*> cached;       // free blocks by size
  std::unordered_map<void*, size_t> in_use;  // live blocks and their (rounded) size
  CudaMemoryStats stats;
};

class CachingAllocator {
 public:
  void* alloc(size_t nbytes, int device) {
    check_device(device, "cuda_alloc");
    const size_t size = round_size(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    check_cuda(cudaSetDevice(device), "cuda_alloc: cudaSetDevice");
    DevicePool& pool = pools_[device];
    ++pool.stats.num_allocs;
    auto it = pool.cached.lower_bound(size);  // best fit: the smallest block >= size
    if (it != pool.cached.end() && it->first <= 2 * size) {
      const size_t block_size = it->first;
      void* p = it->second;
      pool.cached.erase(it);
      ++pool.stats.num_cache_hits;
      record_in_use(pool, p, block_size);
      return p;
    }
    return device_malloc(pool, size, device);
  }

  void free(void* p, int device) noexcept {
    if (p == nullptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (device < 0 || device >= static_cast<int>(pools_.size())) return report_bad_free(p, device);
    DevicePool& pool = pools_[device];
    auto it = pool.in_use.find(p);
    if (it == pool.in_use.end()) return report_bad_free(p, device);
    const size_t size = it->second;
    pool.in_use.erase(it);
    pool.stats.allocated_bytes -= size;
    pool.cached.emplace(size, p);
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int device = 0; device < static_cast<int>(pools_.size()); ++device) release_cached(pools_[device], device);
  }

  CudaMemoryStats stats(int device) {
    check_device(device, "cuda_memory_stats");
    std::lock_guard<std::mutex> lock(mutex_);
    return pools_[device].stats;
  }

  size_t cached_blocks(int device) {
    std::lock_guard<std::mutex> lock(mutex_);
    return pools_[device].cached.size();
  }

 private:
  static void check_device(int device, const char* op) {
    const int n = cuda_device_count();
    LOWBIT_CHECK(device >= 0 && device < n, op, ": cuda:", device, " is not available (", n,
                 " CUDA devices visible)");
  }

  void* device_malloc(DevicePool& pool, size_t size, int device) {
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, size);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear it, or the next kernel-launch check would report it
      release_cached(pool, device);
      err = cudaMalloc(&p, size);
      if (err == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        throw_error(str_cat("cuda_alloc: out of memory on cuda:", device, " allocating ", size, " bytes (",
                            mib(pool.stats.allocated_bytes), " in use by tensors; the cache was emptied and ",
                            "the allocation retried)"));
      }
    }
    check_cuda(err, "cuda_alloc: cudaMalloc");
    ++pool.stats.num_device_mallocs;
    pool.stats.reserved_bytes += size;
    record_in_use(pool, p, size);
    return p;
  }

  static void record_in_use(DevicePool& pool, void* p, size_t size) {
    pool.in_use.emplace(p, size);
    pool.stats.allocated_bytes += size;
    if (pool.stats.allocated_bytes > pool.stats.peak_allocated_bytes)
      pool.stats.peak_allocated_bytes = pool.stats.allocated_bytes;
  }

  // cudaFree synchronizes the device, so blocks still used by queued kernels are safe.
  // The current device is restored afterwards: kernels of the next op run there.
  static void release_cached(DevicePool& pool, int device) {
    if (pool.cached.empty()) return;
    int current = 0;
    check_cuda(cudaGetDevice(&current), "cuda_empty_cache: cudaGetDevice");
    check_cuda(cudaSetDevice(device), "cuda_empty_cache: cudaSetDevice");
    while (!pool.cached.empty()) {
      const auto it = pool.cached.begin();
      const size_t size = it->first;
      const cudaError_t err = cudaFree(it->second);
      pool.cached.erase(it);  // gone from the pool even if cudaFree failed: never hand it out again
      check_cuda(err, "cuda_empty_cache: cudaFree");
      ++pool.stats.num_device_frees;
      pool.stats.reserved_bytes -= size;
    }
    check_cuda(cudaSetDevice(current), "cuda_empty_cache: cudaSetDevice");
  }

  // Called from Storage's destructor, which must not throw: report and leak the block.
  static void report_bad_free(void* p, int device) {
    std::fprintf(stderr, "lowbit: cuda_free: %p was not allocated by cuda_alloc on cuda:%d (ignored)\n", p, device);
  }

  std::mutex mutex_;
  std::vector<DevicePool> pools_ = std::vector<DevicePool>(static_cast<size_t>(cuda_device_count()));
};

// Never destroyed: tensors held in static objects may be freed after main() returns,
// and the driver reclaims all device memory at process exit anyway.
CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator();
  return *a;
}

}  // namespace

void* cuda_alloc(size_t nbytes, int device) { return allocator().alloc(nbytes, device); }
void cuda_free(void* p, int device) { allocator().free(p, device); }

namespace {

// Cached pinned host blocks: size -> block (see device_memory.h).
struct HostPool {
  std::mutex mutex;
  std::multimap<size_t, void*> cached;
};

HostPool& host_pool() {
  static auto* pool = new HostPool;  // never destroyed: storages freed after main() still find it
  return *pool;
}

size_t round_host(size_t nbytes) { return (std::max<size_t>(nbytes, 1) + 4095) / 4096 * 4096; }

void empty_host_pool() {
  HostPool& pool = host_pool();
  std::lock_guard<std::mutex> lock(pool.mutex);
  for (const auto& [size, p] : pool.cached) cudaFreeHost(p);
  pool.cached.clear();
}

}  // namespace

void* cuda_host_alloc(size_t nbytes) {
  LOWBIT_CHECK(cuda_device_count() > 0, "cuda_host_alloc (pinned memory): no CUDA device is visible");
  const size_t rounded = round_host(nbytes);
  HostPool& pool = host_pool();
  {
    std::lock_guard<std::mutex> lock(pool.mutex);
    auto it = pool.cached.lower_bound(rounded);
    if (it != pool.cached.end() && it->first <= 2 * rounded) {
      void* p = it->second;
      pool.cached.erase(it);
      return p;
    }
  }
  void* p = nullptr;
  check_cuda(cudaHostAlloc(&p, rounded, cudaHostAllocDefault), "cuda_host_alloc: cudaHostAlloc");
  return p;
}

// The block goes back to the pool under its rounded size; a caller that got a larger
// cached block passes its own request, so the pool files the block under the smaller
// size: it is then only reused for requests that fit, which is safe.
void cuda_host_free(void* p, size_t nbytes) {
  if (p == nullptr) return;
  HostPool& pool = host_pool();
  std::lock_guard<std::mutex> lock(pool.mutex);
  pool.cached.emplace(round_host(nbytes), p);
}

void cuda_empty_cache() {
  if (cuda_device_count() > 0) {
    allocator().empty_cache();
    empty_host_pool();
  }
}
CudaMemoryStats cuda_memory_stats(int device) { return allocator().stats(device); }

std::string cuda_memory_summary(int device) {
  const int n = cuda_device_count();
  if (device < 0 || device >= n) return str_cat("cuda:", device, " is not available (", n, " CUDA devices visible)");
  const CudaMemoryStats s = cuda_memory_stats(device);
  const double hit_rate = s.num_allocs ? 100.0 * static_cast<double>(s.num_cache_hits) / static_cast<double>(s.num_allocs) : 0.0;
  char line[160];
  std::string out = str_cat("CUDA memory of cuda:", device, "\n");
  std::snprintf(line, sizeof line, "  %-22s %12.1f MiB\n", "allocated (tensors)", static_cast<double>(s.allocated_bytes) / (1 << 20));
  out += line;
  std::snprintf(line, sizeof line, "  %-22s %12.1f MiB\n", "peak allocated", static_cast<double>(s.peak_allocated_bytes) / (1 << 20));
  out += line;
  std::snprintf(line, sizeof line, "  %-22s %12.1f MiB  (%zu cached blocks)\n", "reserved (from driver)",
                static_cast<double>(s.reserved_bytes) / (1 << 20), allocator().cached_blocks(device));
  out += line;
  std::snprintf(line, sizeof line, "  %-22s %12llu  (%.1f%% served from the cache)\n", "cuda_alloc calls",
                static_cast<unsigned long long>(s.num_allocs), hit_rate);
  out += line;
  std::snprintf(line, sizeof line, "  %-22s %12llu\n", "cudaMalloc calls", static_cast<unsigned long long>(s.num_device_mallocs));
  out += line;
  std::snprintf(line, sizeof line, "  %-22s %12llu\n", "cudaFree calls", static_cast<unsigned long long>(s.num_device_frees));
  out += line;
  return out;
}

void cuda_memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind) {
  if (nbytes == 0) return;
  cudaMemcpyKind k = cudaMemcpyDefault;
  switch (kind) {
    case CopyKind::host_to_device: k = cudaMemcpyHostToDevice; break;
    case CopyKind::device_to_host: k = cudaMemcpyDeviceToHost; break;
    case CopyKind::device_to_device: k = cudaMemcpyDefault; break;  // from the pointers: also between GPUs
  }
  // On the legacy default stream: ordered after every kernel issued before it, and the
  // host-side buffer may be reused as soon as it returns (a device-to-device copy may
  // still be running then, but everything that could read or reuse it is issued later).
  check_cuda(cudaMemcpy(dst, src, nbytes, k), "cuda_memcpy: cudaMemcpy");
}

void cuda_synchronize() {
  if (cuda_device_count() == 0) return;
  check_cuda(cudaDeviceSynchronize(), "cuda_synchronize: cudaDeviceSynchronize");
}

}  // namespace lowbit
