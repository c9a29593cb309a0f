// The per-thread block cache behind Image and stb_image (data/pixel_memory.h): freed blocks
// are reused best-fit within a factor of two, the cache stays within its bounds, blocks
// move between threads, and PixelBuffer copies, moves and compares its bytes.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "data/pixel_memory.h"

namespace lowbit::data {
namespace {

// Runs fn on a fresh thread: its cache starts empty and is released when it ends.
template <class Fn>
void on_fresh_thread(Fn fn) {
  std::thread t(fn);
  t.join();
}

TEST(PixelMemory, FreedBlocksAreReusedBestFit) {
  on_fresh_thread([] {
    void* big = pixel_alloc(600000);
    void* small = pixel_alloc(200000);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(big) % kPixelAlignment, 0u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(small) % kPixelAlignment, 0u);
    pixel_free(big);
    pixel_free(small);
    EXPECT_GE(pixel_cache_bytes(), size_t{800000});
    EXPECT_EQ(pixel_alloc(150000), small);  // the smallest block that fits
    EXPECT_EQ(pixel_alloc(500000), big);
    void* fresh = pixel_alloc(100000);  // the cache is empty again
    EXPECT_NE(fresh, small);
    EXPECT_NE(fresh, big);
    EXPECT_EQ(pixel_cache_bytes(), 0u);
    pixel_free(fresh);
    pixel_free(big);
    // Within a factor of two only: the 600000-byte block does not serve 200000 bytes.
    void* c = pixel_alloc(200000);
    EXPECT_NE(c, big);
    EXPECT_NE(c, fresh);
    EXPECT_EQ(pixel_alloc(300000), big);  // but does serve 300000
    pixel_free(c);
    pixel_free(small);
    pixel_free(big);
  });
}

TEST(PixelMemory, SmallBlocksBypassTheCache) {
  on_fresh_thread([] {
    void* p = pixel_alloc(100);
    std::memset(p, 7, 100);
    pixel_free(p);
    EXPECT_EQ(pixel_cache_bytes(), 0u);
    pixel_free(nullptr);
    void* zero = pixel_alloc(0);  // a valid, distinct pointer
    EXPECT_NE(zero, nullptr);
    pixel_free(zero);
  });
}

TEST(PixelMemory, CacheStaysWithinItsBounds) {
  on_fresh_thread([] {
    std::vector<void*> blocks;
    for (int i = 0; i < 2 * kCachedBlocks; ++i) blocks.push_back(pixel_alloc(size_t(100000) + size_t(i) * 4096));
    for (void* p : blocks) pixel_free(p);
    EXPECT_LE(pixel_cache_bytes(), size_t(kCachedBlocks) * (100000 + 2 * kCachedBlocks * 4096));
    // The newest blocks stay: the last one freed is found again.
    EXPECT_EQ(pixel_alloc(100000 + (2 * kCachedBlocks - 1) * 4096), blocks.back());
    pixel_free(blocks.back());
    // A block above kLargestCached goes back to the system; total bytes stay under kCachedBytes.
    void* huge = pixel_alloc(kLargestCached + 1);
    pixel_free(huge);
    EXPECT_LE(pixel_cache_bytes(), kCachedBytes);
    std::vector<void*> big;
    for (int i = 0; i < 4; ++i) big.push_back(pixel_alloc(kLargestCached - 4096));
    for (void* p : big) pixel_free(p);
    EXPECT_LE(pixel_cache_bytes(), kCachedBytes);
    EXPECT_GE(pixel_cache_bytes(), kLargestCached - 4096);
  });
}

TEST(PixelMemory, ReallocKeepsTheBytes) {
  on_fresh_thread([] {
    auto* p = static_cast<uint8_t*>(pixel_alloc(20000));
    for (int i = 0; i < 20000; ++i) p[i] = static_cast<uint8_t>(i * 7);
    EXPECT_EQ(pixel_realloc(p, 19000), p);  // shrinking keeps the block
    auto* q = static_cast<uint8_t*>(pixel_realloc(p, 90000));
    for (int i = 0; i < 20000; ++i) ASSERT_EQ(q[i], static_cast<uint8_t>(i * 7)) << i;
    pixel_free(q);
    auto* r = static_cast<uint8_t*>(pixel_realloc(nullptr, 50));
    ASSERT_NE(r, nullptr);
    pixel_free(r);
  });
}

TEST(PixelMemory, BlocksMayBeFreedOnAnotherThread) {
  void* p = nullptr;
  on_fresh_thread([&] { p = pixel_alloc(300000); });
  on_fresh_thread([&] {
    pixel_free(p);  // joins this thread's cache...
    EXPECT_EQ(pixel_alloc(300000), p);
    pixel_free(p);
  });  // ...which is released when the thread ends (ASan reports a leak otherwise)
}

TEST(PixelBuffer, CopiesMovesAndCompares) {
  PixelBuffer a(50000, 3);
  EXPECT_EQ(a.size(), 50000u);
  EXPECT_EQ(a[49999], 3);
  a[10] = 9;
  PixelBuffer b = a;
  EXPECT_TRUE(b == a);
  EXPECT_NE(b.data(), a.data());
  b[10] = 4;
  EXPECT_FALSE(b == a);
  const uint8_t* moved_from = a.data();
  PixelBuffer c = std::move(a);
  EXPECT_EQ(c.data(), moved_from);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  c.resize_uninitialized(20);
  EXPECT_EQ(c.size(), 20u);
  EXPECT_EQ(c[10], 9);
  c = b;
  EXPECT_TRUE(c == b);
  c = PixelBuffer();
  EXPECT_TRUE(c.empty());
  EXPECT_FALSE(c == b);
  EXPECT_TRUE(PixelBuffer() == PixelBuffer(0));
}

}  // namespace
}  // namespace lowbit::data
