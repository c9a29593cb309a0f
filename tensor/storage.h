// Storage: one allocation shared by a tensor and all its views.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tensor/device.h"

namespace lowbit {

class Storage {
 public:
  // Allocates nbytes (uninitialized) on `device`; on the CPU, in pinned (page-locked)
  // memory when `pinned` (device_memory.h: needs a CUDA device).
  Storage(size_t nbytes, Device device, bool pinned = false);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  bool pinned() const { return pinned_; }

  // Bumped by every in-place write through any view; autograd compares it with the
  // value saved at forward time to detect a saved tensor modified in place.
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  bool pinned_ = false;
  std::atomic<uint64_t> version_{0};
};

}  // namespace lowbit
