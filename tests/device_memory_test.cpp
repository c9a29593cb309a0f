// Host allocator: alignment, the large-block cache (reuse, the 2x rule, stats, empty);
// pinned host memory (empty_pinned: a clear error without a GPU, reuse and copies with one).
#include <cstdint>
#include <cstring>

#include "tensor/device_memory.h"
#include "tensor/tensor.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

TEST(CpuAllocator, Alignment) {
  for (size_t n : {size_t(0), size_t(1), size_t(63), size_t(1000), size_t(3) << 20}) {
    void* p = cpu_alloc(n);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kCpuAlignment, 0u) << n;
    std::memset(p, 0xAB, n);  // the whole request is writable (ASan checks it)
    cpu_free(p, n);
  }
  void* big = cpu_alloc(size_t(5) << 20);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big) % (size_t(2) << 20), 0u) << "large blocks are 2 MiB aligned";
  cpu_free(big, size_t(5) << 20);
}

TEST(CpuAllocator, LargeBlocksAreReused) {
  cpu_empty_cache();
  const size_t n = size_t(6) << 20;
  const CpuMemoryStats before = cpu_memory_stats();
  void* p = cpu_alloc(n);
  cpu_free(p, n);
  EXPECT_EQ(cpu_memory_stats().cached_bytes, before.cached_bytes + n);
  void* q = cpu_alloc(n - 1000);  // rounds to the same block size
  EXPECT_EQ(q, p) << "a freed block of the right size is handed out again";
  EXPECT_EQ(cpu_memory_stats().num_cache_hits, before.num_cache_hits + 1);
  cpu_free(q, n - 1000);
  // A request less than half the cached block does not take it (2x rule).
  void* small = cpu_alloc(size_t(2) << 20);
  EXPECT_NE(small, p);
  cpu_free(small, size_t(2) << 20);
  // Tensors go through the same path: the second identical tensor reuses the block.
  void* first;
  {
    Tensor t = empty({int64_t(3) << 20});  // 12 MiB of f32
    first = t.data_ptr();
  }
  Tensor again = empty({int64_t(3) << 20});
  EXPECT_EQ(again.data_ptr(), first);
  cpu_empty_cache();
  EXPECT_EQ(cpu_memory_stats().cached_bytes, 0u);
}

TEST(CpuAllocator, StatsTrackLiveBytes) {
  const uint64_t live = cpu_memory_stats().allocated_bytes;
  {
    Tensor a = empty({1000});           // small: 4000 bytes, rounded to 64
    Tensor b = empty({int64_t(1) << 20});  // large: 4 MiB
    EXPECT_EQ(cpu_memory_stats().allocated_bytes, live + 4032 + (size_t(4) << 20));
  }
  EXPECT_EQ(cpu_memory_stats().allocated_bytes, live);
}

TEST(PinnedMemory, TensorsAndReuse) {
  const Tensor plain = empty({4, 5});
  EXPECT_FALSE(is_pinned(plain));
  if (cuda_device_count() == 0) {
    EXPECT_LOWBIT_ERROR(empty_pinned({4, 5}), "pinned memory", built_with_cuda() ? "no CUDA device" : "no CUDA backend");
    GTEST_SKIP() << "no CUDA device: only the error without one is checked";
  }
  void* first = nullptr;
  {
    Tensor t = empty_pinned({256, 1024});
    EXPECT_TRUE(is_pinned(t));
    EXPECT_TRUE(t.device().is_cpu());
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i % 977);
    const Tensor back = t.to(Device::cuda(0)).cpu();
    EXPECT_EQ(std::memcmp(back.data_ptr(), t.data_ptr(), 256 * 1024 * 4), 0);
    first = t.data_ptr();
  }
  const Tensor again = empty_pinned({200, 1024});  // fits the freed block (within 2x): reused
  EXPECT_EQ(again.data_ptr(), first);
  EXPECT_TRUE(is_pinned(again.narrow(0, 1, 5)));  // views share the storage
}

}  // namespace
}  // namespace lowbit
