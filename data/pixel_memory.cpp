// The per-thread block cache behind Image and stb_image (see pixel_memory.h for the policy
// and why).
#include "data/pixel_memory.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "tensor/error.h"

// Under AddressSanitizer a cached block is poisoned until it is handed out again, so a
// use after pixel_free is still reported although the memory is not returned to malloc.
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define LOWBIT_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define LOWBIT_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define LOWBIT_POISON(p, n) ((void)(p), (void)(n))
#define LOWBIT_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace lowbit::data {

namespace {

// Every block starts with one cache line holding its capacity (the usable bytes after it),
// so pixel_free and pixel_realloc know a block's size and the data stays 64-byte aligned.
constexpr size_t kHeader = kPixelAlignment;

size_t& capacity_of(void* p) { return *reinterpret_cast<size_t*>(static_cast<uint8_t*>(p) - kHeader); }

void* system_alloc(size_t capacity) {
  void* base = std::aligned_alloc(kPixelAlignment, kHeader + capacity);
  LOWBIT_CHECK(base != nullptr, "pixel_alloc: out of memory allocating ", capacity, " bytes");
  void* p = static_cast<uint8_t*>(base) + kHeader;
  capacity_of(p) = capacity;
  return p;
}

void system_free(void* p) {
  LOWBIT_UNPOISON(p, capacity_of(p));  // the header is never poisoned
  std::free(static_cast<uint8_t*>(p) - kHeader);
}

struct Cache {
  void* block[kCachedBlocks] = {};  // oldest first
  int count = 0;
  size_t bytes = 0;

  ~Cache() {
    for (int i = 0; i < count; ++i) system_free(block[i]);
    count = 0;
    bytes = 0;
    destroyed = true;
  }
  void remove(int i) {
    bytes -= capacity_of(block[i]);
    std::copy(block + i + 1, block + count, block + i);
    --count;
  }
  static thread_local bool destroyed;  // trivially destructible: readable after ~Cache
};
thread_local bool Cache::destroyed = false;

thread_local Cache cache;

// Whole cache lines, at least one (a valid pointer for 0 bytes).
size_t rounded(size_t bytes) {
  LOWBIT_CHECK(bytes <= SIZE_MAX / 2, "pixel_alloc: ", bytes, " bytes is too large");
  return std::max<size_t>((bytes + kPixelAlignment - 1) / kPixelAlignment * kPixelAlignment, kPixelAlignment);
}

}  // namespace

void* pixel_alloc(size_t bytes) {
  const size_t capacity = rounded(bytes);
  if (capacity >= kSmallest && !Cache::destroyed) {
    int best = -1;
    for (int i = 0; i < cache.count; ++i) {
      const size_t c = capacity_of(cache.block[i]);
      if (c >= capacity && c / 2 <= capacity && (best < 0 || c < capacity_of(cache.block[best]))) best = i;
    }
    if (best >= 0) {
      void* p = cache.block[best];
      cache.remove(best);
      LOWBIT_UNPOISON(p, capacity_of(p));
      return p;
    }
  }
  return system_alloc(capacity);
}

void pixel_free(void* p) {
  if (p == nullptr) return;
  const size_t capacity = capacity_of(p);
  if (capacity < kSmallest || capacity > kLargestCached || Cache::destroyed) {
    system_free(p);
    return;
  }
  // Make room: the oldest blocks go back to the system first.
  while (cache.count > 0 && (cache.count == kCachedBlocks || cache.bytes + capacity > kCachedBytes)) {
    void* oldest = cache.block[0];
    cache.remove(0);
    system_free(oldest);
  }
  cache.block[cache.count++] = p;
  cache.bytes += capacity;
  LOWBIT_POISON(p, capacity);
}

void* pixel_realloc(void* p, size_t bytes) {
  if (p == nullptr) return pixel_alloc(bytes);
  const size_t capacity = capacity_of(p);
  if (bytes <= capacity) return p;
  void* q = pixel_alloc(bytes);
  std::memcpy(q, p, capacity);
  pixel_free(p);
  return q;
}

PixelBuffer::PixelBuffer(size_t n, uint8_t value) {
  resize_uninitialized(n);
  if (n > 0) std::memset(data_, value, n);
}

PixelBuffer::PixelBuffer(const PixelBuffer& other) {
  resize_uninitialized(other.size_);
  if (size_ > 0) std::memcpy(data_, other.data_, size_);
}

PixelBuffer::PixelBuffer(PixelBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

PixelBuffer& PixelBuffer::operator=(const PixelBuffer& other) {
  if (this != &other) {
    resize_uninitialized(other.size_);
    if (size_ > 0) std::memcpy(data_, other.data_, size_);
  }
  return *this;
}

PixelBuffer& PixelBuffer::operator=(PixelBuffer&& other) noexcept {
  if (this != &other) {
    pixel_free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void PixelBuffer::resize_uninitialized(size_t n) {
  if (n == size_) return;
  if (n == 0) {
    pixel_free(std::exchange(data_, nullptr));
  } else if (data_ == nullptr || n > capacity_of(data_)) {
    data_ = static_cast<uint8_t*>(pixel_realloc(data_, n));
  }
  size_ = n;
}

bool operator==(const PixelBuffer& a, const PixelBuffer& b) {
  return a.size_ == b.size_ && (a.size_ == 0 || std::memcmp(a.data_, b.data_, a.size_) == 0);
}

size_t pixel_cache_bytes() { return Cache::destroyed ? 0 : cache.bytes; }

}  // namespace lowbit::data
