// Helpers shared by the test suites: deterministic random inputs (independent of the
// library's own RNG, so a broken RNG cannot hide a broken kernel), non-contiguous views,
// comparison with readable failure messages, and a thread-count guard.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/config.h"
#include "tensor/device_memory.h"
#include "tensor/tensor.h"

namespace lowbit::test {

// Values: floats uniform in [lo, hi); integers uniform over [lo, hi] (clamped to the
// dtype range); bool 0/1.
inline Tensor random_tensor(const Shape& sizes, DType dtype, uint64_t seed, double lo = -2, double hi = 2) {
  std::mt19937_64 rng(seed);
  const int64_t n = shape_numel(sizes);
  std::vector<double> v(static_cast<size_t>(n));
  if (is_floating(dtype)) {
    std::uniform_real_distribution<double> d(lo, hi);
    for (auto& x : v) x = d(rng);
  } else if (dtype == DType::b8) {
    for (auto& x : v) x = static_cast<double>(rng() & 1);
  } else {
    double dlo = lo, dhi = hi;
    if (dtype == DType::u8) { dlo = std::max(dlo, 0.0); dhi = std::min(dhi, 255.0); }
    if (dtype == DType::i8) { dlo = std::max(dlo, -128.0); dhi = std::min(dhi, 127.0); }
    std::uniform_int_distribution<int64_t> d(static_cast<int64_t>(dlo), static_cast<int64_t>(dhi));
    for (auto& x : v) x = static_cast<double>(d(rng));
  }
  return from_vector(v, sizes).to(dtype);
}

// A non-contiguous tensor with the given logical shape and the same values as
// random_tensor(sizes, ...): stored transposed (last two dims swapped) inside a larger
// buffer, then viewed back, so strides are neither contiguous nor simple.
inline Tensor random_strided(const Shape& sizes, DType dtype, uint64_t seed, double lo = -2, double hi = 2) {
  Tensor values = random_tensor(sizes, dtype, seed, lo, hi);
  if (sizes.size() < 2) {
    // Every other element of a buffer twice as long.
    Shape big = sizes.empty() ? Shape{1} : Shape{sizes[0] * 2};
    Tensor buf = zeros(big, dtype);
    Tensor view = sizes.empty() ? buf.select(0, 0) : buf.slice(0, 0, big[0], 2);
    view.copy_(values);
    return view;
  }
  Shape padded = sizes;
  std::swap(padded[padded.size() - 1], padded[padded.size() - 2]);
  padded.back() += 3;  // padding between rows
  const int64_t nd = static_cast<int64_t>(sizes.size());
  Tensor buf = zeros(padded, dtype);
  Tensor view = buf.narrow(nd - 1, 1, sizes[nd - 2]).transpose(nd - 1, nd - 2);
  view.copy_(values);
  return view;
}

// Bit-level equality (NaN == NaN with the same payload; +0 != -0).
inline ::testing::AssertionResult bit_equal(const Tensor& expected, const Tensor& actual, const std::string& what) {
  if (expected.sizes() != actual.sizes() || expected.dtype() != actual.dtype())
    return ::testing::AssertionFailure() << what << ": expected " << describe(expected) << ", got " << describe(actual);
  const Tensor e = expected.cpu().contiguous(), a = actual.cpu().contiguous();
  const size_t item = e.itemsize();
  const auto* pe = static_cast<const unsigned char*>(e.data_ptr());
  const auto* pa = static_cast<const unsigned char*>(a.data_ptr());
  int64_t bad = 0;
  std::ostringstream first;
  for (int64_t i = 0; i < e.numel(); ++i) {
    if (std::memcmp(pe + i * item, pa + i * item, item) != 0) {
      if (bad < 5)
        first << "\n  [" << i << "]: expected " << e.reshape({-1}).select(0, i).item() << " got "
              << a.reshape({-1}).select(0, i).item();
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << e.numel() << " elements differ in their bits"
                                       << first.str();
}

// |actual - expected| <= atol + rtol * |expected| elementwise, with NaN matching NaN and
// infinities matching exactly. Failure lists the first mismatching flat indices.
inline ::testing::AssertionResult all_close(const Tensor& expected, const Tensor& actual, double rtol, double atol,
                                            const std::string& what) {
  if (expected.sizes() != actual.sizes())
    return ::testing::AssertionFailure() << what << ": expected shape " << shape_str(expected.sizes()) << ", got "
                                         << shape_str(actual.sizes());
  const std::vector<double> e = expected.to_vector<double>(), a = actual.to_vector<double>();
  int64_t bad = 0;
  double worst = 0;
  std::ostringstream first;
  for (size_t i = 0; i < e.size(); ++i) {
    bool ok;
    if (std::isnan(e[i]) || std::isnan(a[i])) ok = std::isnan(e[i]) && std::isnan(a[i]);
    else if (std::isinf(e[i]) || std::isinf(a[i])) ok = e[i] == a[i];
    else ok = std::fabs(a[i] - e[i]) <= atol + rtol * std::fabs(e[i]);
    if (!ok) {
      if (bad < 5) first << "\n  [" << i << "]: expected " << e[i] << " got " << a[i];
      if (!std::isnan(a[i]) && !std::isnan(e[i])) worst = std::max(worst, std::fabs(a[i] - e[i]));
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << e.size()
                                       << " elements differ by more than atol " << atol << " + rtol " << rtol
                                       << " (largest difference " << worst << ")" << first.str();
}

// Runs `fn` with the given thread count, restoring the previous count afterwards.
class ThreadGuard {
 public:
  explicit ThreadGuard(int n) : previous_(num_threads()) { set_num_threads(n); }
  ~ThreadGuard() { set_num_threads(previous_); }

 private:
  int previous_;
};

// Expects `statement` to throw lowbit::Error whose message contains every fragment.
#define EXPECT_LOWBIT_ERROR(statement, ...)                                                  \
  do {                                                                                       \
    try {                                                                                    \
      statement;                                                                             \
      ADD_FAILURE() << "expected lowbit::Error from " #statement;                          \
    } catch (const ::lowbit::Error& e) {                                                     \
      const std::string msg = e.what();                                                      \
      for (const std::string& frag : std::vector<std::string>{__VA_ARGS__})                  \
        EXPECT_NE(msg.find(frag), std::string::npos) << "message: " << msg << "\nmissing: " << frag; \
    }                                                                                        \
  } while (0)

// Skips the current test unless a CUDA device is present.
#define LOWBIT_REQUIRE_CUDA()                                                                        \
  do {                                                                                               \
    if (::lowbit::cuda_device_count() == 0)                                                          \
      GTEST_SKIP() << (::lowbit::built_with_cuda() ? "no CUDA device visible: CUDA tests skipped"    \
                                                   : "built without CUDA: CUDA tests skipped");      \
  } while (0)

}  // namespace lowbit::test
