// random: Philox known answers, cpu == ref bit for bit, reproducibility across runs and
// thread counts, the offset bookkeeping, distribution sanity, randperm, bad arguments.
//
// The statistical checks use a fixed seed, so they are deterministic: they cannot flake.
// Their tolerances are still set at 6 standard errors of the statistic for 1M samples,
// so that any seed would pass, and a wrong formula (a biased mean, a halved variance,
// an off-by-one range) fails by a wide margin.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "tensor/config.h"
#include "tensor/kernels/philox.h"
#include "tensor/kernels/random.h"
#include "tensor/random.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::bit_equal;
using test::ThreadGuard;

// ---- Philox ---------------------------------------------------------------------------

// Random123's known-answer vectors for philox4x32-10 (kat_vectors): counter c0..c3, key k0 k1.
TEST(Philox, Random123KnownAnswers) {
  struct Kat {
    uint32_t c[4], k[2], out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& t : kats) {
    const uint64_t lo = t.c[0] | (static_cast<uint64_t>(t.c[1]) << 32);
    const uint64_t hi = t.c[2] | (static_cast<uint64_t>(t.c[3]) << 32);
    const uint64_t key = t.k[0] | (static_cast<uint64_t>(t.k[1]) << 32);
    const Philox4x32 r = philox4x32_10(lo, hi, key);
    for (int w = 0; w < 4; ++w) EXPECT_EQ(r.x[w], t.out[w]) << "word " << w << " for counter word0 " << t.c[0];
  }
}

// Element i uses block offset + i/2, words (0,1) for even i and (2,3) for odd i.
TEST(Philox, ElementToCounterMapping) {
  const uint64_t seed = 0x123456789abcdefull, offset = 77;
  for (uint64_t i = 0; i < 10; ++i) {
    const Philox4x32 r = philox4x32_10(offset + i / 2, 0, seed);
    const uint64_t want = i % 2 == 0 ? (static_cast<uint64_t>(r.x[1]) << 32) | r.x[0]
                                     : (static_cast<uint64_t>(r.x[3]) << 32) | r.x[2];
    EXPECT_EQ(philox_bits64(seed, offset, i), want) << "element " << i;
  }
}

// ---- kernels: cpu == ref --------------------------------------------------------------

struct DistCase {
  RandomDist dist;
  double a, b;
  const char* name;
};
const DistCase kDists[] = {
    {RandomDist::uniform, -1.5, 2.25, "uniform"},
    {RandomDist::normal, 0.5, 3.0, "normal"},
    {RandomDist::randint, -7, 300, "randint"},
    {RandomDist::bernoulli, 0.3, 0, "bernoulli"},
};

bool dtype_allowed(RandomDist dist, DType t) {
  if (dist == RandomDist::uniform || dist == RandomDist::normal) return is_floating(t);
  if (dist == RandomDist::randint) return t == DType::f32 || t == DType::f64 || t == DType::i32 || t == DType::i64;
  return true;  // bernoulli: any dtype
}

// Every dist and dtype, an odd count that crosses the CPU's parallel threshold and block
// size, and an offset near the top of the 64-bit counter (the counter wraps there).
TEST(Random, CpuMatchesRefBitForBit) {
  for (const DistCase& d : kDists)
    for (DType t : {DType::f32, DType::f64, DType::i8, DType::u8, DType::i32, DType::i64, DType::b8}) {
      if (!dtype_allowed(d.dist, t)) continue;
      for (uint64_t offset : {uint64_t{0}, uint64_t{12345}, ~uint64_t{0} - 1000}) {
        RandomParams p;
        p.dist = d.dist;
        p.dtype = t;
        p.numel = 100001;
        p.seed = 2024;
        p.offset = offset;
        p.a = d.a;
        p.b = d.b;
        Tensor want = empty({p.numel}, t), got = empty({p.numel}, t);
        ref::random(p, want.data_ptr());
        cpu::random(p, got.data_ptr());
        EXPECT_TRUE(bit_equal(want, got, str_cat(d.name, " ", dtype_name(t), " offset ", offset)));
      }
    }
}

TEST(Random, ReferenceModeGivesTheSameTensors) {
  Generator g1{5, 3}, g2{5, 3};
  Tensor fast = normal({3, 1001}, 0, 1, DType::f64, Device::cpu(), &g1);
  Tensor slow;
  {
    ReferenceModeGuard ref(true);
    slow = normal({3, 1001}, 0, 1, DType::f64, Device::cpu(), &g2);
  }
  EXPECT_TRUE(bit_equal(slow, fast, "normal ref mode vs cpu"));
}

// ---- reproducibility and the offset ----------------------------------------------------

TEST(Random, SameSeedAndOffsetSameNumbers) {
  Generator a{42, 10}, b{42, 10}, c{43, 10};
  const Tensor x = uniform({1000}, 0, 1, DType::f32, Device::cpu(), &a);
  const Tensor y = uniform({1000}, 0, 1, DType::f32, Device::cpu(), &b);
  const Tensor z = uniform({1000}, 0, 1, DType::f32, Device::cpu(), &c);
  EXPECT_TRUE(bit_equal(x, y, "same seed and offset"));
  EXPECT_FALSE(bit_equal(x, z, "different seed"));

  manual_seed(7);
  const Tensor d1 = randint({500}, 0, 1000);
  EXPECT_EQ(default_generator().offset, 250u);
  manual_seed(7);
  EXPECT_TRUE(bit_equal(d1, randint({500}, 0, 1000), "default generator after manual_seed"));
  // An explicit generator leaves the default one alone.
  Generator own{7, 0};
  const uint64_t before = default_generator().offset;
  EXPECT_TRUE(bit_equal(d1, randint({500}, 0, 1000, DType::i64, Device::cpu(), &own), "explicit generator"));
  EXPECT_EQ(default_generator().offset, before);
}

TEST(Random, SameBitsForAnyThreadCount) {
  auto draw = [](const DistCase& d) {
    Generator g{99, 1};
    const Shape n{1 << 20};
    switch (d.dist) {
      case RandomDist::uniform: return uniform(n, d.a, d.b, DType::f32, Device::cpu(), &g);
      case RandomDist::normal: return normal(n, d.a, d.b, DType::f32, Device::cpu(), &g);
      case RandomDist::randint: return randint(n, -7, 300, DType::i32, Device::cpu(), &g);
      case RandomDist::bernoulli: break;
    }
    return bernoulli(n, d.a, DType::u8, Device::cpu(), &g);
  };
  for (const DistCase& d : kDists) {
    Tensor one, two;
    {
      ThreadGuard threads(1);
      one = draw(d);
    }
    {
      ThreadGuard threads(2);
      two = draw(d);
    }
    EXPECT_TRUE(bit_equal(one, two, str_cat(d.name, " on 1 vs 2 threads")));
  }
}

// A draw of n advances the offset by ceil(n/2), so for even n two draws of n are one
// draw of 2n; for odd n the second draw starts at the next whole block.
TEST(Random, OffsetAdvance) {
  const int64_t n = 1000;
  Generator split{11, 5}, whole{11, 5};
  const Tensor first = normal({n}, 0, 1, DType::f64, Device::cpu(), &split);
  const Tensor second = normal({n}, 0, 1, DType::f64, Device::cpu(), &split);
  const Tensor both = normal({2 * n}, 0, 1, DType::f64, Device::cpu(), &whole);
  EXPECT_EQ(split.offset, 5u + n);
  EXPECT_EQ(whole.offset, 5u + n);
  EXPECT_TRUE(bit_equal(both.narrow(0, 0, n), first, "first half"));
  EXPECT_TRUE(bit_equal(both.narrow(0, n, n), second, "second half"));

  Generator odd{11, 0}, ref_gen{11, 0};
  uniform({7}, 0, 1, DType::f32, Device::cpu(), &odd);
  EXPECT_EQ(odd.offset, 4u);
  const Tensor after = uniform({6}, 0, 1, DType::f32, Device::cpu(), &odd);
  const Tensor eight_plus = uniform({14}, 0, 1, DType::f32, Device::cpu(), &ref_gen);
  EXPECT_TRUE(bit_equal(eight_plus.narrow(0, 8, 6), after, "odd draw skips the rest of its last block"));
  uniform({0}, 0, 1, DType::f32, Device::cpu(), &odd);
  EXPECT_EQ(odd.offset, 7u) << "an empty draw consumes nothing";
}

// ---- distributions ----------------------------------------------------------------------

constexpr int64_t kSamples = 1 << 20;

struct Moments {
  double mean = 0, var = 0, min = 0, max = 0;
};
Moments moments(const Tensor& x) {
  const std::vector<double> v = x.to_vector<double>();
  Moments m;
  m.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  for (double e : v) m.var += (e - m.mean) * (e - m.mean);
  m.var /= static_cast<double>(v.size() - 1);
  m.min = *std::min_element(v.begin(), v.end());
  m.max = *std::max_element(v.begin(), v.end());
  return m;
}

TEST(Random, UniformStatistics) {
  const double n = kSamples;
  for (DType t : {DType::f32, DType::f64}) {
    Generator g{1, 0};
    const double lo = -3, hi = 5, w = hi - lo;
    const Moments m = moments(uniform({kSamples}, lo, hi, t, Device::cpu(), &g));
    // mean: sd w/sqrt(12 n); variance w^2/12: sd sqrt((mu4 - sigma^4) / n), mu4 = w^4/80.
    EXPECT_NEAR(m.mean, (lo + hi) / 2, 6 * w / std::sqrt(12 * n)) << dtype_name(t);
    EXPECT_NEAR(m.var, w * w / 12, 6 * std::sqrt((std::pow(w, 4) / 80 - std::pow(w * w / 12, 2)) / n)) << dtype_name(t);
    EXPECT_GE(m.min, lo);
    EXPECT_LT(m.max, hi);
    EXPECT_LT(m.min, lo + 1e-3 * w) << "the low end is reached";
    EXPECT_GT(m.max, hi - 1e-3 * w) << "the high end is approached";
  }
}

// [1, next float after 1): half the draws round up to hi and must be stepped down.
TEST(Random, UniformNeverReturnsHi) {
  Generator g{3, 0};
  const double hi32 = 1.0 + std::ldexp(1.0, -23), hi64 = std::nextafter(1.0, 2.0);
  for (float v : uniform({4096}, 1.0, hi32, DType::f32, Device::cpu(), &g).to_vector<float>()) ASSERT_EQ(v, 1.0f);
  for (double v : uniform({4096}, 1.0, hi64, DType::f64, Device::cpu(), &g).to_vector<double>()) ASSERT_EQ(v, 1.0);
  // hi not representable in f32 (0.1f > 0.1): results stay below 0.1 itself.
  const Moments m = moments(uniform({kSamples}, 0.0999999, 0.1, DType::f32, Device::cpu(), &g));
  EXPECT_LT(m.max, 0.1);
}

TEST(Random, NormalStatistics) {
  const double n = kSamples;
  for (DType t : {DType::f32, DType::f64}) {
    Generator g{2, 0};
    const double mean = 3, std = 2;
    const Tensor x = normal({kSamples}, mean, std, t, Device::cpu(), &g);
    const Moments m = moments(x);
    // mean: sd std/sqrt(n); variance: sd std^2 sqrt(2/n).
    EXPECT_NEAR(m.mean, mean, 6 * std / std::sqrt(n)) << dtype_name(t);
    EXPECT_NEAR(m.var, std * std, 6 * std * std * std::sqrt(2 / n)) << dtype_name(t);
    // Shape: P(|z| < 1) = 0.682689, P(|z| < 2) = 0.954500; binomial sd sqrt(p (1-p) / n).
    const std::vector<double> v = x.to_vector<double>();
    double within1 = 0, within2 = 0;
    for (double e : v) {
      within1 += std::fabs(e - mean) < std;
      within2 += std::fabs(e - mean) < 2 * std;
    }
    EXPECT_NEAR(within1 / n, 0.682689, 6 * std::sqrt(0.682689 * 0.317311 / n));
    EXPECT_NEAR(within2 / n, 0.954500, 6 * std::sqrt(0.9545 * 0.0455 / n));
    EXPECT_TRUE(std::isfinite(m.min) && std::isfinite(m.max));
  }
  Generator g{2, 0};
  for (float v : normal({100}, 1.5, 0.0, DType::f32, Device::cpu(), &g).to_vector<float>()) ASSERT_EQ(v, 1.5f);
}

TEST(Random, BernoulliStatistics) {
  Generator g{4, 0};
  const double p = 0.3, n = kSamples;
  const Tensor x = bernoulli({kSamples}, p, DType::b8, Device::cpu(), &g);
  EXPECT_EQ(x.dtype(), DType::b8);
  const std::vector<double> v = x.to_vector<double>();
  double ones = 0;
  for (double e : v) {
    ASSERT_TRUE(e == 0 || e == 1);
    ones += e;
  }
  EXPECT_NEAR(ones / n, p, 6 * std::sqrt(p * (1 - p) / n));
  const Moments zero = moments(bernoulli({1000}, 0.0, DType::f32, Device::cpu(), &g));
  const Moments one = moments(bernoulli({1000}, 1.0, DType::i64, Device::cpu(), &g));
  EXPECT_EQ(zero.max, 0);
  EXPECT_EQ(one.min, 1);
}

TEST(Random, RandintRangeAndCounts) {
  Generator g{5, 0};
  const std::vector<double> v = randint({kSamples}, -3, 7, DType::i32, Device::cpu(), &g).to_vector<double>();
  std::map<int64_t, double> counts;
  for (double e : v) counts[static_cast<int64_t>(e)] += 1;
  ASSERT_EQ(counts.size(), 10u);
  EXPECT_EQ(counts.begin()->first, -3);
  EXPECT_EQ(counts.rbegin()->first, 6);
  const double n = kSamples, expect = n / 10;
  for (const auto& [value, count] : counts)
    EXPECT_NEAR(count, expect, 6 * std::sqrt(n * 0.1 * 0.9)) << "value " << value;

  // Every u8 value, extreme bounds, and float outputs hold integers.
  const Moments u8 = moments(randint({kSamples}, 0, 256, DType::u8, Device::cpu(), &g));
  EXPECT_EQ(u8.min, 0);
  EXPECT_EQ(u8.max, 255);
  const int64_t big = int64_t{1} << 53;
  const std::vector<int64_t> wide = randint({10000}, -big, big, DType::i64, Device::cpu(), &g).to_vector<int64_t>();
  for (int64_t e : wide) ASSERT_TRUE(e >= -big && e < big) << e;
  for (float e : randint({10000}, -5, 5, DType::f32, Device::cpu(), &g).to_vector<float>())
    ASSERT_TRUE(e == std::floor(e) && e >= -5 && e < 5) << e;
  const Moments single = moments(randint({100}, 41, 42, DType::i8, Device::cpu(), &g));
  EXPECT_EQ(single.min, 41);
  EXPECT_EQ(single.max, 41);
}

// ---- randperm ---------------------------------------------------------------------------

TEST(Random, RandpermIsAReproduciblePermutation) {
  Generator g{6, 0}, again{6, 0};
  const Tensor p = randperm(1000, Device::cpu(), &g);
  EXPECT_EQ(p.dtype(), DType::i64);
  EXPECT_EQ(g.offset, 500u);
  std::vector<int64_t> v = p.to_vector<int64_t>();
  EXPECT_TRUE(bit_equal(p, randperm(1000, Device::cpu(), &again), "same generator state"));
  EXPECT_FALSE(bit_equal(p, randperm(1000, Device::cpu(), &again), "next draw differs"));
  std::vector<int64_t> identity(1000);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(v, identity);
  std::sort(v.begin(), v.end());
  EXPECT_EQ(v, identity);
  EXPECT_EQ(randperm(0, Device::cpu(), &g).numel(), 0);
  EXPECT_EQ(randperm(1, Device::cpu(), &g).to_vector<int64_t>(), std::vector<int64_t>{0});

  // All 24 orders of 4 elements, each about 1/24 of 24000 draws.
  std::map<std::vector<int64_t>, double> orders;
  for (int i = 0; i < 24000; ++i) orders[randperm(4, Device::cpu(), &g).to_vector<int64_t>()] += 1;
  ASSERT_EQ(orders.size(), 24u);
  for (const auto& [order, count] : orders) EXPECT_NEAR(count, 1000, 6 * std::sqrt(24000 * (1 / 24.0) * (23 / 24.0)));
}

// ---- errors -----------------------------------------------------------------------------

TEST(Random, Errors) {
  EXPECT_LOWBIT_ERROR(uniform({3}, 1, 1), "uniform: expected lo < hi, got lo=1 hi=1");
  EXPECT_LOWBIT_ERROR(uniform({3}, 0, 1, DType::i32), "uniform: dtype must be f32 or f64, got i32");
  EXPECT_LOWBIT_ERROR(uniform({3}, 0, 1e300, DType::f32), "uniform: the range", "is not finite in f32");
  EXPECT_LOWBIT_ERROR(uniform({3}, 0, std::numeric_limits<double>::infinity()), "uniform: the range");
  EXPECT_LOWBIT_ERROR(uniform({2, -1}), "uniform: negative size in [2,-1]");
  EXPECT_LOWBIT_ERROR(normal({3}, 0, -1), "normal: std must be finite and >= 0, got -1");
  EXPECT_LOWBIT_ERROR(normal({3}, 0, 1, DType::u8), "normal: dtype must be f32 or f64, got u8");
  EXPECT_LOWBIT_ERROR(normal({3}, std::nan(""), 1), "normal: mean must be finite");
  EXPECT_LOWBIT_ERROR(randint({3}, 5, 5), "randint: expected lo < hi, got lo=5 hi=5");
  EXPECT_LOWBIT_ERROR(randint({3}, 0, 2, DType::b8), "randint: dtype bool is not supported");
  EXPECT_LOWBIT_ERROR(randint({3}, 0, 300, DType::u8), "randint: [0, 300) does not fit in u8 (0..255)");
  EXPECT_LOWBIT_ERROR(randint({3}, -129, 0, DType::i8), "does not fit in i8 (-128..127)");
  EXPECT_LOWBIT_ERROR(randint({3}, 0, (int64_t{1} << 24) + 1, DType::f32), "randint:", "exceed 2^24");
  EXPECT_LOWBIT_ERROR(randint({3}, 0, (int64_t{1} << 53) + 1), "randint:", "exceed 2^53");
  EXPECT_LOWBIT_ERROR(bernoulli({3}, 1.5), "bernoulli: probability must be in [0, 1], got 1.5");
  EXPECT_LOWBIT_ERROR(bernoulli({3}, std::nan("")), "bernoulli: probability must be in [0, 1]");
  EXPECT_LOWBIT_ERROR(randperm(-1), "randperm: n must be >= 0, got -1");
}

// ---- CUDA -------------------------------------------------------------------------------

// uniform, randint and bernoulli are bit-identical on CUDA; normal goes through each
// platform's log/cos/sqrt in double (random.h), so f64 agrees to a few ulp and f32 to one
// ulp, bit-identical except in rare double-rounding cases.
TEST(Random, CudaMatchesCpu) {
  LOWBIT_REQUIRE_CUDA();
  const Device gpu = Device::cuda();
  auto both = [&](auto draw) {
    Generator a{8, 3}, b{8, 3};
    return std::pair<Tensor, Tensor>{draw(Device::cpu(), &a), draw(gpu, &b).cpu()};
  };
  for (DType t : {DType::f32, DType::f64}) {
    auto [cu, gu] = both([&](Device d, Generator* g) { return uniform({100001}, -2, 3, t, d, g); });
    EXPECT_TRUE(bit_equal(cu, gu, str_cat("uniform ", dtype_name(t))));
    auto [cn, gn] = both([&](Device d, Generator* g) { return normal({100001}, 1, 2, t, d, g); });
    const std::vector<double> x = cn.to_vector<double>(), y = gn.to_vector<double>();
    int64_t differ = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double ulp = t == DType::f32 ? std::fabs(std::nextafter(static_cast<float>(x[i]), INFINITY) - static_cast<float>(x[i]))
                                         : std::fabs(std::nextafter(x[i], INFINITY) - x[i]);
      ASSERT_LE(std::fabs(x[i] - y[i]), (t == DType::f32 ? 1 : 8) * ulp) << "normal element " << i;
      differ += x[i] != y[i];
    }
    if (t == DType::f32) {
      EXPECT_LT(differ, 100) << "f32 normals differ in more than 0.1% of elements";
    }
  }
  for (DType t : {DType::i8, DType::i64, DType::f32}) {
    auto [c, g] = both([&](Device d, Generator* gen) { return randint({100001}, -100, 100, t, d, gen); });
    EXPECT_TRUE(bit_equal(c, g, str_cat("randint ", dtype_name(t))));
  }
  auto [cb, gb] = both([&](Device d, Generator* g) { return bernoulli({100001}, 0.25, DType::b8, d, g); });
  EXPECT_TRUE(bit_equal(cb, gb, "bernoulli"));
  auto [cp, gp] = both([&](Device d, Generator* g) { return randperm(1001, d, g); });
  EXPECT_TRUE(bit_equal(cp, gp, "randperm"));
}

}  // namespace
}  // namespace lowbit
