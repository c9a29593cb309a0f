// matmul: the op layer against a host oracle written from NumPy's definition, cpu (OpenBLAS)
// against ref, the kernels on hand-made layouts, determinism across thread counts, errors.
//
// Float bound (cpu vs ref). For a dot product of length k in precision u, any summation
// order, with or without FMA, satisfies |fl(x.y) - x.y| <= gamma_k * |x|.|y| with
// gamma_k = k u / (1 - k u) (Higham, Accuracy and Stability of Numerical Algorithms, 3.1).
// ref is within that of the exact value too (f64 accumulation, then one rounding), so
//   |cpu - ref|[i,j] <= 2 (k + 1) u (|A| @ |B|)[i,j],   u = 2^-24 (f32) or 2^-53 (f64)
// holds for every element of every input: the test cannot flake. It is a worst-case bound;
// the small odd shapes below are what catch layout bugs, which give errors of order |a||b|.
#include <omp.h>

#include <array>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/config.h"
#include "tensor/kernels/matmul.h"
#include "tensor/ops.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::all_close;
using test::bit_equal;
using test::random_strided;
using test::random_tensor;
using test::ThreadGuard;

// ---- the oracle -------------------------------------------------------------------

// NumPy matmul on the host, from the definition: 1-D operands get a dim of size 1, batch
// dims broadcast, and out[..., i, j] = sum_kk a[..., i, kk] * b[..., kk, j] in double, in
// kk order (the ref kernel's rounding). With `absolute`, sums |a| |b| instead (the bound).
struct Naive {
  Shape shape;                // NumPy's result shape
  std::vector<double> values; // row-major
};

Naive naive_matmul(const Tensor& a_in, const Tensor& b_in, bool absolute = false) {
  const Tensor a = a_in.dim() == 1 ? a_in.unsqueeze(0) : a_in;
  const Tensor b = b_in.dim() == 1 ? b_in.unsqueeze(1) : b_in;
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  const Shape batch = broadcast_shapes(Shape(a.sizes().begin(), a.sizes().end() - 2),
                                       Shape(b.sizes().begin(), b.sizes().end() - 2), "naive");
  Shape a_full = batch, b_full = batch;
  a_full.insert(a_full.end(), {m, k});
  b_full.insert(b_full.end(), {k, n});
  const std::vector<double> av = a.expand(a_full).to_vector<double>(), bv = b.expand(b_full).to_vector<double>();
  const int64_t nbatch = shape_numel(batch);
  Naive out;
  out.values.assign(static_cast<size_t>(nbatch * m * n), 0.0);
  for (int64_t bi = 0; bi < nbatch; ++bi)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t kk = 0; kk < k; ++kk) {
          const double x = av[static_cast<size_t>((bi * m + i) * k + kk)];
          const double y = bv[static_cast<size_t>((bi * k + kk) * n + j)];
          acc += absolute ? std::fabs(x) * std::fabs(y) : x * y;
        }
        out.values[static_cast<size_t>((bi * m + i) * n + j)] = acc;
      }
  out.shape = batch;
  if (a_in.dim() > 1) out.shape.push_back(m);
  if (b_in.dim() > 1) out.shape.push_back(n);
  return out;
}

Tensor matmul_ref(const Tensor& a, const Tensor& b) {
  ReferenceModeGuard ref(true);
  return raw::matmul(a, b);
}
Tensor matmul_cpu(const Tensor& a, const Tensor& b) {
  ReferenceModeGuard ref(false);
  return raw::matmul(a, b);
}

// |got - want| <= bound elementwise, listing the first offenders.
::testing::AssertionResult within_bound(const Tensor& want, const Tensor& got, const std::vector<double>& bound,
                                        const std::string& what) {
  if (want.sizes() != got.sizes())
    return ::testing::AssertionFailure() << what << ": shape " << shape_str(got.sizes()) << " vs " << shape_str(want.sizes());
  const std::vector<double> w = want.to_vector<double>(), g = got.to_vector<double>();
  int64_t bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < w.size(); ++i) {
    if (std::fabs(g[i] - w[i]) <= bound[i]) continue;
    if (bad++ < 5) first << "\n  [" << i << "]: ref " << w[i] << " got " << g[i] << " (bound " << bound[i] << ")";
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << w.size() << " elements outside the bound"
                                       << first.str();
}

// The whole check for one pair of inputs: ref == oracle bit for bit, cpu == ref within
// 2 (k + 1) u (|A| @ |B|).
void check_matmul(const Tensor& a, const Tensor& b, const std::string& what) {
  SCOPED_TRACE(what + ": a " + describe(a) + ", b " + describe(b));
  const Naive oracle = naive_matmul(a, b);
  const Tensor ref = matmul_ref(a, b), cpu = matmul_cpu(a, b);
  EXPECT_TRUE(bit_equal(from_vector(oracle.values, oracle.shape).to(a.dtype()), ref, what + " ref vs oracle"));
  const int64_t k = a.size(-1);
  const double u = a.dtype() == DType::f32 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
  std::vector<double> bound = naive_matmul(a, b, /*absolute=*/true).values;
  for (double& x : bound) x *= 2.0 * static_cast<double>(k + 1) * u;
  EXPECT_TRUE(within_bound(ref, cpu, bound, what + " cpu vs ref"));
}

// ---- shapes and layouts -------------------------------------------------------------

class MatmulTypes : public ::testing::TestWithParam<DType> {};
INSTANTIATE_TEST_SUITE_P(Float, MatmulTypes, ::testing::Values(DType::f32, DType::f64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST_P(MatmulTypes, MatrixShapes) {
  const DType t = GetParam();
  uint64_t seed = 1;
  // Odd sizes around OpenBLAS's register blocks, skinny and fat, and one big enough to thread.
  for (const auto& [m, k, n] : std::vector<std::array<int64_t, 3>>{
           {1, 1, 1}, {2, 3, 4}, {7, 5, 3}, {17, 33, 9}, {1, 64, 65}, {65, 1, 31}, {33, 129, 1}, {100, 37, 71},
           {127, 255, 129}, {256, 196, 300}}) {
    seed += 2;
    check_matmul(random_tensor({m, k}, t, seed), random_tensor({k, n}, t, seed + 1),
                 str_cat("[", m, ",", k, "] @ [", k, ",", n, "]"));
  }
}

TEST_P(MatmulTypes, Vectors) {
  const DType t = GetParam();
  check_matmul(random_tensor({37}, t, 1), random_tensor({37}, t, 2), "dot");
  check_matmul(random_tensor({1}, t, 3), random_tensor({1}, t, 4), "dot of length 1");
  check_matmul(random_tensor({13}, t, 5), random_tensor({13, 7}, t, 6), "vector @ matrix");
  check_matmul(random_tensor({7, 13}, t, 7), random_tensor({13}, t, 8), "matrix @ vector");
  check_matmul(random_tensor({13}, t, 9), random_tensor({4, 13, 7}, t, 10), "vector @ batch");
  check_matmul(random_tensor({2, 3, 7, 13}, t, 11), random_tensor({13}, t, 12), "batch @ vector");
  // Strided vectors (every other element of a buffer).
  check_matmul(random_strided({21}, t, 13), random_strided({21}, t, 14), "strided dot");
  check_matmul(random_strided({21}, t, 15), random_tensor({21, 5}, t, 16), "strided vector @ matrix");
  check_matmul(random_tensor({5, 21}, t, 17), random_strided({21}, t, 18), "matrix @ strided vector");
  EXPECT_EQ(matmul_cpu(random_tensor({5}, t, 19), random_tensor({5}, t, 20)).dim(), 0);
}

TEST_P(MatmulTypes, Batched) {
  const DType t = GetParam();
  check_matmul(random_tensor({5, 6, 7}, t, 1), random_tensor({5, 7, 3}, t, 2), "same batch");
  check_matmul(random_tensor({2, 3, 4, 5}, t, 3), random_tensor({2, 3, 5, 6}, t, 4), "two batch dims");
  check_matmul(random_tensor({1, 4, 5}, t, 5), random_tensor({6, 5, 3}, t, 6), "a broadcast (stride 0)");
  check_matmul(random_tensor({6, 4, 5}, t, 7), random_tensor({5, 3}, t, 8), "b is 2-D (stride 0)");
  check_matmul(random_tensor({4, 5}, t, 9), random_tensor({2, 3, 5, 3}, t, 10), "a is 2-D, two batch dims");
  check_matmul(random_tensor({2, 1, 4, 5}, t, 11), random_tensor({3, 5, 6}, t, 12), "[2,1] vs [3]: materialised");
  check_matmul(random_tensor({1, 3, 4, 5}, t, 13), random_tensor({2, 1, 5, 6}, t, 14), "[1,3] vs [2,1]");
  // Many small GEMMs: the batch is spread over threads.
  check_matmul(random_tensor({40, 9, 17}, t, 15), random_tensor({40, 17, 11}, t, 16), "batch of 40");
}

TEST_P(MatmulTypes, NonContiguousViews) {
  const DType t = GetParam();
  // random_strided: transposed storage with padded rows, passed as a trans flag.
  check_matmul(random_strided({9, 14}, t, 1), random_tensor({14, 5}, t, 2), "a transposed view");
  check_matmul(random_tensor({9, 14}, t, 3), random_strided({14, 5}, t, 4), "b transposed view");
  check_matmul(random_strided({3, 9, 14}, t, 5), random_strided({3, 14, 5}, t, 6), "both transposed, batched");
  check_matmul(random_tensor({14, 9}, t, 7).t(), random_tensor({5, 14}, t, 8).t(), "plain .t() on both");
  // Padded rows (ld > cols) without a transpose: a narrow of the last dim.
  check_matmul(random_tensor({9, 20}, t, 9).narrow(1, 3, 14), random_tensor({14, 8}, t, 10).narrow(1, 1, 5),
               "narrowed columns");
  // Layouts BLAS cannot take: column step 2, and a batch that does not collapse.
  check_matmul(random_tensor({9, 28}, t, 11).slice(1, 0, 28, 2), random_tensor({14, 5}, t, 12), "column step 2");
  check_matmul(random_tensor({3, 2, 6, 7}, t, 13).permute({1, 0, 2, 3}), random_tensor({2, 3, 7, 4}, t, 14),
               "permuted batch dims");
  check_matmul(random_tensor({6, 4, 5}, t, 15).select(0, 2), random_tensor({5, 4}, t, 16), "offset view");
  // Big enough (m*n*k >= 2^20) for the CPU kernel to cut C into row or column slices.
  check_matmul(random_strided({130, 100}, t, 19), random_strided({100, 90}, t, 20), "transposed, row slices");
  check_matmul(random_strided({90, 100}, t, 21), random_strided({100, 130}, t, 22), "transposed, column slices");
  check_matmul(random_tensor({3, 70, 120}, t, 23), random_strided({3, 120, 130}, t, 24), "batched slices");
  // A row or column that is a broadcast (stride 0 inside the matrix).
  check_matmul(random_tensor({1, 5}, t, 17).expand({4, 5}), random_tensor({5, 3}, t, 18), "expanded rows");
}

TEST_P(MatmulTypes, EmptyDims) {
  const DType t = GetParam();
  const Tensor z = matmul_cpu(random_tensor({3, 0}, t, 1), random_tensor({0, 4}, t, 2));
  EXPECT_EQ(z.sizes(), (Shape{3, 4}));
  EXPECT_TRUE(bit_equal(zeros({3, 4}, t), z, "k = 0 gives zeros"));
  EXPECT_TRUE(bit_equal(zeros({3, 4}, t), matmul_ref(random_tensor({3, 0}, t, 1), random_tensor({0, 4}, t, 2)),
                        "k = 0 gives zeros (ref)"));
  EXPECT_TRUE(bit_equal(zeros({}, t), matmul_cpu(random_tensor({0}, t, 1), random_tensor({0}, t, 2)), "empty dot"));
  EXPECT_EQ(matmul_cpu(random_tensor({0, 5}, t, 3), random_tensor({5, 4}, t, 4)).sizes(), (Shape{0, 4}));
  EXPECT_EQ(matmul_cpu(random_tensor({3, 5}, t, 5), random_tensor({5, 0}, t, 6)).sizes(), (Shape{3, 0}));
  EXPECT_EQ(matmul_cpu(random_tensor({0, 2, 5}, t, 7), random_tensor({5, 4}, t, 8)).sizes(), (Shape{0, 2, 4}));
  const Tensor zb = matmul_cpu(random_tensor({2, 3, 0}, t, 9), random_tensor({0, 4}, t, 10));
  EXPECT_TRUE(bit_equal(zeros({2, 3, 4}, t), zb, "batched k = 0"));
}

// ---- the kernels on hand-made parameters ----------------------------------------------

// Runs ref:: and cpu:: on the same buffers; c starts as 7s so untouched padding shows.
void check_kernels(const MatmulParams& p, int64_t a_elems, int64_t b_elems, int64_t c_elems, const std::string& what) {
  SCOPED_TRACE(what);
  const Tensor a = random_tensor({a_elems}, p.dtype, 1), b = random_tensor({b_elems}, p.dtype, 2);
  Tensor c_ref = full({c_elems}, 7.0, p.dtype), c_cpu = full({c_elems}, 7.0, p.dtype);
  ref::matmul(p, a.data_ptr(), b.data_ptr(), c_ref.data_ptr());
  cpu::matmul(p, a.data_ptr(), b.data_ptr(), c_cpu.data_ptr());
  // Every |a|, |b| < 2, so |A| @ |B| < 4k and the bound of the file header is below 8 (k + 1)^2 u.
  const double u = p.dtype == DType::f32 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
  const double kp1 = static_cast<double>(p.k + 1);
  EXPECT_TRUE(all_close(c_ref, c_cpu, 0, 8.0 * kp1 * kp1 * u, what));
}

TEST_P(MatmulTypes, KernelLayouts) {
  MatmulParams p;
  p.dtype = GetParam();
  p.batch = 3;
  p.m = 5;
  p.n = 6;
  p.k = 7;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      p.trans_a = ta;
      p.trans_b = tb;
      p.lda = (ta ? p.m : p.k) + 2;  // padded leading dims
      p.ldb = (tb ? p.k : p.n) + 3;
      p.ldc = p.n + 1;
      const int64_t a_mat = (ta ? p.k : p.m) * p.lda, b_mat = (tb ? p.n : p.k) * p.ldb;
      p.batch_stride_a = a_mat;
      p.batch_stride_b = 0;  // one b for all batch entries
      p.batch_stride_c = p.m * p.ldc + 4;
      check_kernels(p, p.batch * a_mat, b_mat, p.batch * p.batch_stride_c, str_cat("trans_a ", ta, " trans_b ", tb));
    }
  // k = 0: rows of c are zeroed, the padding (ldc > n) keeps its 7s; m = 0 or n = 0: nothing written.
  p.trans_a = p.trans_b = false;
  p.k = 0;
  p.lda = p.ldb = 1;
  check_kernels(p, 1, 1, p.batch * p.batch_stride_c, "k = 0");
  p.k = 7;
  p.lda = p.k;
  p.ldb = p.n;
  p.batch_stride_a = p.m * p.k;
  for (int64_t* dim : {&p.m, &p.n}) {
    const int64_t keep = *dim;
    *dim = 0;
    check_kernels(p, p.batch * 5 * 7, 7 * 6, p.batch * p.batch_stride_c, "m or n = 0");
    *dim = keep;
  }
}

// ---- determinism ---------------------------------------------------------------------

// Cheap inputs for the big shapes (the values do not matter, only that they are fixed).
Tensor big_random(const Shape& sizes, uint64_t seed) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(shape_numel(sizes)));
  for (float& x : v) x = d(rng);
  return from_vector(v, sizes);
}

// OpenBLAS's own threading changes the bits (matmul_cpu.cpp); ours cuts the work by the
// shape only, so 1 and 2 threads must give identical bits (DESIGN.md, contract 2).
TEST(Matmul, SameBitsForAnyThreadCount) {
  // M x N x K: square 512, then the ResNet-18 conv GEMMs of PERF.md.
  for (const auto& [m, n, k] : std::vector<std::array<int64_t, 3>>{
           {512, 512, 512}, {64, 3136, 576}, {128, 784, 1152}, {256, 196, 2304}, {512, 49, 4608}, {64, 100352, 576}}) {
    const Tensor a = big_random({m, k}, 1), b = big_random({k, n}, 2);
    Tensor one, two;
    {
      ThreadGuard threads(1);
      one = matmul_cpu(a, b);
    }
    {
      ThreadGuard threads(2);
      two = matmul_cpu(a, b);
    }
    EXPECT_TRUE(bit_equal(one, two, str_cat(m, "x", n, "x", k, " on 1 vs 2 threads")));
  }
  // f64, a transposed operand, and a batch of small GEMMs spread over threads.
  const Tensor a = big_random({512, 384}, 3).to(DType::f64), b = big_random({448, 384}, 4).to(DType::f64).t();
  const Tensor sa = big_random({64, 48, 40}, 5), sb = big_random({64, 40, 56}, 6);
  Tensor one, two, small_one, small_two;
  {
    ThreadGuard threads(1);
    one = matmul_cpu(a, b);
    small_one = matmul_cpu(sa, sb);
  }
  {
    ThreadGuard threads(2);
    two = matmul_cpu(a, b);
    small_two = matmul_cpu(sa, sb);
  }
  EXPECT_TRUE(bit_equal(one, two, "f64 transposed on 1 vs 2 threads"));
  EXPECT_TRUE(bit_equal(small_one, small_two, "batch of 64 small GEMMs on 1 vs 2 threads"));
  // The kernel pins OpenBLAS to one thread inside its own parallel region only.
  ThreadGuard threads(2);
  matmul_cpu(a, b);
  EXPECT_EQ(omp_get_max_threads(), 2);
}

TEST(Matmul, LargeAgainstRef) {
  // One ResNet-18 shape (layer3) through the bound, so the threaded path is checked too.
  check_matmul(random_tensor({256, 2304}, DType::f32, 1), random_tensor({2304, 196}, DType::f32, 2), "256x196x2304");
}

// ---- errors --------------------------------------------------------------------------

TEST(Matmul, Errors) {
  const Tensor a = zeros({2, 3}), b = zeros({4, 5});
  EXPECT_LOWBIT_ERROR(raw::matmul(a, b),
                      "matmul: inner dimensions differ: a [2,3] f32 cpu has 3 columns but b [4,5] f32 cpu has 4 rows");
  EXPECT_LOWBIT_ERROR(raw::matmul(zeros({3}), zeros({4})),
                      "matmul: inner dimensions differ: a [3] f32 cpu has 3 elements but b [4] f32 cpu has 4 elements");
  EXPECT_LOWBIT_ERROR(raw::matmul(zeros({2, 3}), zeros({4})), "a [2,3] f32 cpu has 3 columns", "b [4] f32 cpu has 4 elements");
  EXPECT_LOWBIT_ERROR(raw::matmul(zeros({2, 3, 4}), zeros({3, 4, 5})),
                      "matmul: batch dims of a [2,3,4] f32 cpu and b [3,4,5] f32 cpu cannot be broadcast (dim -3: 2 vs 3)");
  EXPECT_LOWBIT_ERROR(raw::matmul(zeros({2, 3}, DType::i32), zeros({3, 2}, DType::i32)), "matmul",
                      "expected an f32 or f64 tensor", "[2,3] i32 cpu");
  EXPECT_LOWBIT_ERROR(raw::matmul(zeros({2, 3}), zeros({3, 2}, DType::f64)), "matmul: dtype mismatch",
                      "[2,3] f32 cpu", "[3,2] f64 cpu");
  EXPECT_LOWBIT_ERROR(raw::matmul(zeros({}), zeros({3})), "matmul: both inputs need at least 1 dim", "a [] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::matmul(zeros({3}), zeros({})), "matmul: both inputs need at least 1 dim", "b [] f32 cpu");
  EXPECT_LOWBIT_ERROR(raw::matmul(Tensor(), zeros({3})), "matmul: undefined input");
}

// ---- CUDA ----------------------------------------------------------------------------

TEST(Matmul, CudaMatchesRef) {
  LOWBIT_REQUIRE_CUDA();
  const Device gpu = Device::cuda();
  for (DType t : {DType::f32, DType::f64}) {
    const Tensor a = random_strided({3, 33, 17}, t, 1), b = random_tensor({17, 29}, t, 2);
    const Tensor ref = matmul_ref(a, b), got = raw::matmul(a.to(gpu), b.to(gpu));
    EXPECT_EQ(got.device(), gpu);
    const double u = t == DType::f32 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
    std::vector<double> bound = naive_matmul(a, b, true).values;
    for (double& x : bound) x *= 2.0 * 18 * u;
    EXPECT_TRUE(within_bound(ref, got.cpu(), bound, str_cat("cuda vs ref ", dtype_name(t))));
  }
  EXPECT_LOWBIT_ERROR(raw::matmul(zeros({2, 3}), zeros({3, 2}, DType::f32, gpu)), "matmul: inputs are on different devices");
}

}  // namespace
}  // namespace lowbit
