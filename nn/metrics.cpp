#include "nn/metrics.h"

#include <vector>

#include "tensor/error.h"

namespace lowbit::nn {

int64_t topk_correct(const Tensor& logits, const Tensor& target, int64_t k) {
  LOWBIT_CHECK(logits.defined() && target.defined() && logits.dim() == 2 && target.dim() == 1 &&
                   target.size(0) == logits.size(0),
               "topk_correct: expected logits [N, C] and target [N], got ",
               logits.defined() ? shape_str(logits.sizes()) : "undefined", " and ",
               target.defined() ? shape_str(target.sizes()) : "undefined");
  LOWBIT_CHECK(!is_floating(target.dtype()), "topk_correct: target must hold integer class indices, got ",
               describe(target));
  LOWBIT_CHECK(k >= 1, "topk_correct: k must be >= 1, got ", k);
  const int64_t N = logits.size(0), C = logits.size(1);
  const std::vector<double> x = logits.to(DType::f64).to_vector<double>();
  const std::vector<int64_t> t = target.to(DType::i64).to_vector<int64_t>();
  int64_t correct = 0;
  for (int64_t n = 0; n < N; ++n) {
    const int64_t c = t[static_cast<size_t>(n)];
    LOWBIT_CHECK(c >= 0 && c < C, "topk_correct: target[", n, "] = ", c, " is outside [0, ", C, ")");
    const double* row = x.data() + n * C;
    int64_t above = 0;
    for (int64_t j = 0; j < C; ++j) above += row[j] > row[c] || (row[j] == row[c] && j < c);
    correct += above < k;
  }
  return correct;
}

}  // namespace lowbit::nn
