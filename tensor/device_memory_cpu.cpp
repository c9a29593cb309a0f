// Host memory: the 64-byte aligned allocator with a cache for large blocks (see
// device_memory.h for the policy and why).
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>

#include "tensor/device_memory.h"
#include "tensor/error.h"

namespace lowbit {

namespace {

constexpr size_t kLargeBlock = size_t(1) << 20;  // below: plain malloc (glibc's arenas recycle small blocks)
constexpr size_t kHugePage = size_t(2) << 20;    // large blocks are multiples of this, and aligned to it

size_t cache_limit_bytes() {
  if (const char* env = std::getenv("LOWBIT_CPU_CACHE_MB")) return static_cast<size_t>(std::atoll(env)) << 20;
  return size_t(4096) << 20;
}

struct LargeBlockCache {
  std::mutex mutex;
  std::multimap<size_t, void*> free_blocks;   // size -> block, for best-fit reuse
  std::unordered_map<void*, size_t> block_size;  // every live or cached large block
  CpuMemoryStats stats;                          // small blocks are counted in the atomics below
  std::atomic<uint64_t> small_bytes{0}, small_allocs{0};
  size_t limit = cache_limit_bytes();
};

// Never destroyed: tensors freed by static destructors after main() still find it.
LargeBlockCache& cache() {
  static auto* c = new LargeBlockCache;
  return *c;
}

void* system_alloc(size_t bytes, size_t alignment) {
  void* p = std::aligned_alloc(alignment, bytes);
  LOWBIT_CHECK(p != nullptr, "cpu_alloc: out of host memory allocating ", bytes, " bytes");
  return p;
}

void note_allocated(CpuMemoryStats& s, size_t bytes) {
  s.allocated_bytes += bytes;
  if (s.allocated_bytes > s.peak_allocated_bytes) s.peak_allocated_bytes = s.allocated_bytes;
}

}  // namespace

void* cpu_alloc(size_t nbytes) {
  LargeBlockCache& c = cache();
  if (nbytes < kLargeBlock) {
    // aligned_alloc needs a multiple of the alignment; never 0 bytes, so every storage
    // has a valid pointer.
    const size_t rounded = nbytes == 0 ? kCpuAlignment : (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    void* p = system_alloc(rounded, kCpuAlignment);
    c.small_allocs.fetch_add(1, std::memory_order_relaxed);
    c.small_bytes.fetch_add(rounded, std::memory_order_relaxed);
    return p;
  }
  const size_t rounded = (nbytes + kHugePage - 1) / kHugePage * kHugePage;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    ++c.stats.num_allocs;
    // Best fit, but never hand out a block more than twice the request (that would
    // strand memory a later large request needs).
    auto it = c.free_blocks.lower_bound(rounded);
    if (it != c.free_blocks.end() && it->first <= 2 * rounded) {
      void* p = it->second;
      c.stats.cached_bytes -= it->first;
      note_allocated(c.stats, it->first);
      ++c.stats.num_cache_hits;
      c.free_blocks.erase(it);
      return p;
    }
  }
  void* p = system_alloc(rounded, kHugePage);
  madvise(p, rounded, MADV_HUGEPAGE);  // a hint: fails harmlessly where THP is off
  std::lock_guard<std::mutex> lock(c.mutex);
  c.block_size[p] = rounded;
  note_allocated(c.stats, rounded);
  return p;
}

void cpu_free(void* p, size_t nbytes) {
  if (p == nullptr) return;
  LargeBlockCache& c = cache();
  if (nbytes < kLargeBlock) {
    const size_t rounded = nbytes == 0 ? kCpuAlignment : (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    c.small_bytes.fetch_sub(rounded, std::memory_order_relaxed);
    std::free(p);
    return;
  }
  std::unique_lock<std::mutex> lock(c.mutex);
  auto it = c.block_size.find(p);
  if (it == c.block_size.end()) return;  // not ours: nothing sensible to do in a destructor
  const size_t size = it->second;
  c.stats.allocated_bytes -= size;
  if (c.stats.cached_bytes + size <= c.limit) {
    c.free_blocks.emplace(size, p);
    c.stats.cached_bytes += size;
    return;
  }
  c.block_size.erase(it);
  lock.unlock();
  std::free(p);
}

void cpu_empty_cache() {
  LargeBlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (const auto& [size, p] : c.free_blocks) {
    c.block_size.erase(p);
    std::free(p);
  }
  c.free_blocks.clear();
  c.stats.cached_bytes = 0;
}

CpuMemoryStats cpu_memory_stats() {
  LargeBlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  CpuMemoryStats s = c.stats;  // large blocks; add the small ones
  s.allocated_bytes += c.small_bytes.load(std::memory_order_relaxed);
  s.num_allocs += c.small_allocs.load(std::memory_order_relaxed);
  s.peak_allocated_bytes = std::max<uint64_t>(s.peak_allocated_bytes, s.allocated_bytes);
  return s;
}

}  // namespace lowbit
