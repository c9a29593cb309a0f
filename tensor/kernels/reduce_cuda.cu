// reduce on CUDA: sum, mean, var, max, min, argmax, aminmax over the middle dim of a
// contiguous input [outer, reduce, inner]; the output is [outer, inner].
//
// Three launch shapes, picked from the shape alone:
//   columns  (inner > 1, or rows of at most kShortRow elements): one thread per output
//            (o, i) loops j = 0 .. reduce-1 over in[o, j, i] in order; neighbouring
//            threads read neighbouring i, so the loads coalesce.
//   rows     (inner == 1, longer rows): one block of kThreads per row. Thread t combines
//            elements t, t + kThreads, t + 2 kThreads, ... in order, then the block
//            combines the kThreads partial results in a fixed shared-memory tree.
//   two-stage (inner == 1, fewer than kTwoStageMaxRows rows longer than kChunk): rows
//            are cut into chunks of kChunk elements; stage 1 runs the row kernel on
//            every chunk and writes one partial result per chunk, stage 2 combines the
//            partials of each row with the same block tree. This keeps the GPU busy
//            when there are only a few long rows (a global sum is one row).
//
// Determinism (reduce.h): kThreads, kShortRow, kChunk and kTwoStageMaxRows are
// constants, so the order in which a row is combined depends only on [outer, reduce,
// inner], never on the GPU model or on timing. No atomics anywhere.
//
// Numerics, as reduce.h: f32 sums accumulate in f64 (rounded once at the end), integer
// sums in wrapping 64-bit arithmetic (exact in any order), var is two-pass (pass 1 writes
// the f64 mean of every output to a workspace, pass 2 sums (x - mean)^2). max/min,
// aminmax and argmax pick values without arithmetic and break ties by index, so they are
// exactly the CPU's results; float sums differ from the CPU's only by the order of the
// f64 additions. Products that feed a sum use __dmul_rn, so nvcc cannot contract them
// into an FMA (which the CPU, built with -ffp-contract=off, never does).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "tensor/device_memory.h"
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/reduce.h"

namespace lowbit::cuda {

namespace {

constexpr int kThreads = 256;                // threads per block; a power of two (the tree)
constexpr int64_t kShortRow = 64;            // rows up to this length use one thread per row
constexpr int64_t kChunk = 16384;            // two-stage: elements per stage-1 block
constexpr int64_t kTwoStageMaxRows = 128;    // two-stage only below this many rows
constexpr int64_t kMaxBlocks = 65535;        // grid-stride loops cover the rest

int64_t num_blocks(int64_t work_items, int64_t per_block) {
  const int64_t blocks = (work_items + per_block - 1) / per_block;
  return blocks < kMaxBlocks ? blocks : kMaxBlocks;
}

void check_cuda(cudaError_t err, const char* op, const char* what) {
  if (err != cudaSuccess) throw_error(str_cat(op, ": ", what, ": ", cudaGetErrorString(err)));
}

__device__ int64_t first_index() { return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ int64_t grid_stride() { return static_cast<int64_t>(blockDim.x) * gridDim.x; }

// A scratch buffer from the caching allocator on the current device. It may be released
// as soon as the kernels using it are issued: the next user is ordered after them on
// the default stream (device_memory_cuda.cu).
class Workspace {
 public:
  Workspace(size_t nbytes, const char* op) {
    if (nbytes == 0) return;
    check_cuda(cudaGetDevice(&device_), op, "cudaGetDevice");
    data_ = cuda_alloc(nbytes, device_);
  }
  ~Workspace() { cuda_free(data_, device_); }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  template <typename T> T* get() const { return static_cast<T*>(data_); }

 private:
  void* data_ = nullptr;
  int device_ = 0;
};

// ---- the accumulations ------------------------------------------------------------
// Each op says what a thread starts from (identity), how element j of the row that
// produces output q enters (load), how two partial results merge (combine) and how the
// final result is written (finish). Acc types are trivial so they fit in __shared__.

enum class SumOut : uint8_t { sum, mean, mean_f64 };  // mean_f64: var pass 1

template <typename T>
struct SumOp {
  using In = T;
  // f64 for floats (reduce.h); uint64 for integers: wrap-around, exact in any order.
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;
  SumOut what;
  int64_t n;  // the reduce length
  void* out;  // sum: T (floats) or i64 (integers); mean: T; mean_f64: double

  __device__ Acc identity() const { return Acc(0); }
  __device__ Acc load(int64_t, int64_t, T x) const { return static_cast<Acc>(x); }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ void finish(int64_t q, Acc acc) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (what == SumOut::sum) static_cast<T*>(out)[q] = static_cast<T>(acc);
      else if (what == SumOut::mean) static_cast<T*>(out)[q] = static_cast<T>(acc / static_cast<double>(n));
      else static_cast<double*>(out)[q] = acc / static_cast<double>(n);
    } else {
      static_cast<int64_t*>(out)[q] = static_cast<int64_t>(acc);
    }
  }
};

// var pass 2: sum of (x - mean)^2 over the row, divided by max(n - correction, 0).
template <typename T>
struct SquaredDeviationOp {
  using In = T;
  using Acc = double;
  const double* mean;  // [outer * inner], from pass 1
  int64_t divisor;     // max(n - correction, 0); 0 gives inf or NaN, as PyTorch
  T* out;

  __device__ Acc identity() const { return 0.0; }
  __device__ Acc load(int64_t q, int64_t, T x) const {
    const double d = static_cast<double>(x) - mean[q];
    return __dmul_rn(d, d);  // no FMA with the following add
  }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ void finish(int64_t q, Acc acc) const { out[q] = static_cast<T>(acc / static_cast<double>(divisor)); }
};

// max, min, aminmax and argmax share one accumulator: the current candidate for each end
// (value and index), so that max(x) == x[argmax(x)] bit for bit, as in reduce_ref.cpp.
template <typename T>
struct ValueIndex {
  T value;
  int64_t index;  // -1: empty (a thread that saw no element)
};

template <typename T>
struct Extremes {
  ValueIndex<T> lo, hi;
};

template <typename T>
__device__ bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  return false;
}

// a > b in the order of max/min: the usual one with +0 above -0 (never called on NaN).
template <typename T>
__device__ bool greater(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (a == 0 && b == 0) return !std::signbit(a) && std::signbit(b);
  }
  return a > b;
}

// The preferred of two candidates for one end: a NaN first, else the larger (kMax) or
// smaller value, and between equals the smaller index. This is reduce_ref.cpp's "first
// NaN, else the first extreme element", whatever order the candidates meet in.
template <bool kMax, typename T>
__device__ ValueIndex<T> prefer(ValueIndex<T> a, ValueIndex<T> b) {
  if (a.index < 0) return b;
  if (b.index < 0) return a;
  const bool a_nan = is_nan(a.value), b_nan = is_nan(b.value);
  if (a_nan != b_nan) return a_nan ? a : b;
  if (!a_nan) {
    if (kMax ? greater(a.value, b.value) : greater(b.value, a.value)) return a;
    if (kMax ? greater(b.value, a.value) : greater(a.value, b.value)) return b;
  }
  return a.index < b.index ? a : b;  // equal values, or both NaN
}

template <typename T>
struct ExtremeOp {
  using In = T;
  using Acc = Extremes<T>;
  ReduceOp op;  // max, min, aminmax or argmax
  void* out;    // max, min: T; aminmax: the min (T); argmax: i64
  void* out2;   // aminmax: the max (T)

  __device__ Acc identity() const { return {{T(0), -1}, {T(0), -1}}; }
  __device__ Acc load(int64_t, int64_t j, T x) const { return {{x, j}, {x, j}}; }
  __device__ Acc combine(Acc a, Acc b) const { return {prefer<false>(a.lo, b.lo), prefer<true>(a.hi, b.hi)}; }
  __device__ void finish(int64_t q, Acc acc) const {
    switch (op) {
      case ReduceOp::max: static_cast<T*>(out)[q] = acc.hi.value; break;
      case ReduceOp::min: static_cast<T*>(out)[q] = acc.lo.value; break;
      case ReduceOp::argmax: static_cast<int64_t*>(out)[q] = acc.hi.index; break;
      default:  // aminmax
        static_cast<T*>(out)[q] = acc.lo.value;
        static_cast<T*>(out2)[q] = acc.hi.value;
    }
  }
};

// ---- kernels -------------------------------------------------------------------------

// Combines the kThreads values of a block in a fixed tree; every thread gets the result.
template <typename Op>
__device__ typename Op::Acc block_reduce(const Op& op, typename Op::Acc acc) {
  __shared__ typename Op::Acc partial[kThreads];
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) partial[threadIdx.x] = op.combine(partial[threadIdx.x], partial[threadIdx.x + half]);
    __syncthreads();
  }
  const typename Op::Acc result = partial[0];
  __syncthreads();  // before the block's next row overwrites partial[]
  return result;
}

// One thread per output q = o * inner + i; in is [outer, reduce, inner].
template <typename Op>
__global__ void reduce_columns_kernel(Op op, const typename Op::In* in, int64_t outer, int64_t reduce, int64_t inner) {
  for (int64_t q = first_index(); q < outer * inner; q += grid_stride()) {
    const int64_t o = q / inner, i = q % inner;
    const typename Op::In* column = in + o * reduce * inner + i;
    typename Op::Acc acc = op.identity();
    for (int64_t j = 0; j < reduce; ++j) acc = op.combine(acc, op.load(q, j, column[j * inner]));
    op.finish(q, acc);
  }
}

// inner == 1. Block item b reduces chunk (b % nchunks) of row (b / nchunks), i.e.
// elements [c * chunk, min((c + 1) * chunk, reduce)) of in[row, :]. With one chunk per
// row it writes the result; otherwise the partial result goes to partial[b].
template <typename Op>
__global__ void reduce_rows_kernel(Op op, const typename Op::In* in, int64_t outer, int64_t reduce, int64_t chunk,
                                   int64_t nchunks, typename Op::Acc* partial) {
  for (int64_t b = blockIdx.x; b < outer * nchunks; b += gridDim.x) {  // uniform across the block
    const int64_t row = b / nchunks, c = b % nchunks;
    const int64_t begin = c * chunk, end = begin + chunk < reduce ? begin + chunk : reduce;
    const typename Op::In* x = in + row * reduce;
    typename Op::Acc acc = op.identity();
    for (int64_t j = begin + threadIdx.x; j < end; j += kThreads) acc = op.combine(acc, op.load(row, j, x[j]));
    acc = block_reduce(op, acc);
    if (threadIdx.x == 0) {
      if (nchunks == 1) op.finish(row, acc);
      else partial[b] = acc;
    }
  }
}

// Two-stage, stage 2: one block per row combines its nchunks partial results.
template <typename Op>
__global__ void reduce_partials_kernel(Op op, const typename Op::Acc* partial, int64_t outer, int64_t nchunks) {
  for (int64_t row = blockIdx.x; row < outer; row += gridDim.x) {
    typename Op::Acc acc = op.identity();
    for (int64_t c = threadIdx.x; c < nchunks; c += kThreads) acc = op.combine(acc, partial[row * nchunks + c]);
    acc = block_reduce(op, acc);
    if (threadIdx.x == 0) op.finish(row, acc);
  }
}

// Picks the launch shape (see the top of the file) and runs op over in.
template <typename Op>
void run(const Op& op, const typename Op::In* in, const ReduceParams& p) {
  const char* name = reduce_op_name(p.op);
  if (p.inner > 1 || p.reduce <= kShortRow) {
    reduce_columns_kernel<<<static_cast<int>(num_blocks(p.outer * p.inner, kThreads)), kThreads>>>(op, in, p.outer,
                                                                                                  p.reduce, p.inner);
    check_cuda(cudaGetLastError(), name, "kernel launch");
    return;
  }
  const bool two_stage = p.outer < kTwoStageMaxRows && p.reduce > kChunk;
  const int64_t nchunks = two_stage ? (p.reduce + kChunk - 1) / kChunk : 1;
  const int64_t chunk = two_stage ? kChunk : p.reduce;
  using Acc = typename Op::Acc;
  Workspace partial(two_stage ? static_cast<size_t>(p.outer * nchunks) * sizeof(Acc) : 0, name);
  reduce_rows_kernel<<<static_cast<int>(num_blocks(p.outer * nchunks, 1)), kThreads>>>(
      op, in, p.outer, p.reduce, chunk, nchunks, partial.get<Acc>());
  check_cuda(cudaGetLastError(), name, "kernel launch");
  if (two_stage) {
    reduce_partials_kernel<<<static_cast<int>(num_blocks(p.outer, 1)), kThreads>>>(op, partial.get<Acc>(), p.outer,
                                                                                  nchunks);
    check_cuda(cudaGetLastError(), name, "kernel launch");
  }
}

}  // namespace

void reduce(const ReduceParams& p, const void* in, void* out, void* out2) {
  const int64_t outputs = p.outer * p.inner;
  if (outputs == 0) return;
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(in);
    switch (p.op) {
      case ReduceOp::sum: return run(SumOp<T>{SumOut::sum, p.reduce, out}, x, p);
      case ReduceOp::mean:
      case ReduceOp::var:
        if constexpr (std::is_floating_point_v<T>) {
          if (p.op == ReduceOp::mean) return run(SumOp<T>{SumOut::mean, p.reduce, out}, x, p);
          Workspace mean(static_cast<size_t>(outputs) * sizeof(double), "var");
          run(SumOp<T>{SumOut::mean_f64, p.reduce, mean.get<double>()}, x, p);
          const int64_t divisor = p.reduce - p.correction > 0 ? p.reduce - p.correction : 0;
          return run(SquaredDeviationOp<T>{mean.get<double>(), divisor, static_cast<T*>(out)}, x, p);
        } else {
          throw_error(str_cat(reduce_op_name(p.op), ": expected f32 or f64, got ", dtype_name(p.dtype)));
        }
      case ReduceOp::max:
      case ReduceOp::min:
      case ReduceOp::aminmax:
      case ReduceOp::argmax: return run(ExtremeOp<T>{p.op, out, out2}, x, p);
    }
  });
}

}  // namespace lowbit::cuda
