// Memory for decoded images and their intermediates: Image's pixels, stb_image's buffers
// (its decoder allocates through these functions, see image.cpp) and the transforms'
// scratch images.
//
// Why not plain malloc: a loader worker allocates and frees the same half-megabyte buffers
// for every image (stb's output and component planes, the Image, the resized image).
// glibc serves blocks this size from mmap or from the top of a heap it trims on free, so
// the next image often pays a page fault per 4 KiB page. Measured on 500x375 JPEGs: stb
// decoding at 1.0 ms per image on some runs and 1.8 ms (291 page faults per image) on
// others, and the loader's epochs at 1360 or 1020 img/s, depending on malloc's state.
//
// The policy: every thread keeps up to kCachedBlocks freed blocks (at most kCachedBytes
// in all, none above kLargestCached), and an allocation takes the smallest cached block
// that fits and is at most twice the request; otherwise the system allocator. In steady
// state a worker allocates nothing from the system. Blocks below kSmallest go straight to
// malloc (its bins recycle them without page faults). A block may be freed on any thread
// (it joins that thread's cache); a thread's cache is released when the thread ends.
// Blocks are 64-byte aligned.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lowbit::data {

constexpr size_t kPixelAlignment = 64;
constexpr int kCachedBlocks = 8;
constexpr size_t kSmallest = size_t(16) << 10;       // 16 KiB
constexpr size_t kLargestCached = size_t(32) << 20;  // 32 MiB, a 3800 x 2800 RGB image
constexpr size_t kCachedBytes = size_t(64) << 20;    // per thread

// malloc / realloc / free with the policy above; pixel_alloc never returns null (throws
// lowbit::Error when the system is out of memory); pixel_free(nullptr) does nothing.
void* pixel_alloc(size_t bytes);
void* pixel_realloc(void* p, size_t bytes);
void pixel_free(void* p);

// Bytes this thread's cache holds (for tests and benchmarks).
size_t pixel_cache_bytes();

// An owning byte buffer in pixel memory: Image's pixels. A std::vector with a custom
// allocator would copy and fill byte by byte (libstdc++ keeps memcpy/memset for
// std::allocator), 0.3 ms per decoded 500x375 image; this copies with memcpy.
class PixelBuffer {
 public:
  using value_type = uint8_t;
  using iterator = uint8_t*;
  using const_iterator = const uint8_t*;

  PixelBuffer() = default;
  explicit PixelBuffer(size_t n, uint8_t value = 0);  // n bytes of value
  PixelBuffer(const PixelBuffer& other);
  PixelBuffer(PixelBuffer&& other) noexcept;
  PixelBuffer& operator=(const PixelBuffer& other);
  PixelBuffer& operator=(PixelBuffer&& other) noexcept;
  ~PixelBuffer() { pixel_free(data_); }

  // n bytes, the first min(n, size()) kept, any new ones unspecified (uninitialised).
  void resize_uninitialized(size_t n);

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint8_t& operator[](size_t i) { return data_[i]; }
  const uint8_t& operator[](size_t i) const { return data_[i]; }
  uint8_t* begin() { return data_; }
  uint8_t* end() { return data_ + size_; }
  const uint8_t* begin() const { return data_; }
  const uint8_t* end() const { return data_ + size_; }
  friend bool operator==(const PixelBuffer& a, const PixelBuffer& b);

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace lowbit::data
