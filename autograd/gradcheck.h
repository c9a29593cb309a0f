// gradcheck: compares the Jacobian that backward computes with central finite
// differences, in f64 (DESIGN.md contract 3: every differentiable op has one).
//
//   auto r = gradcheck([](const std::vector<Tensor>& in) { return tanh(in[0]) * in[1]; },
//                      {random_tensor({2,3}, DType::f64, 1), random_tensor({3}, DType::f64, 2)});
//   EXPECT_TRUE(r.ok) << r.message;
//
// Every f64 input is differentiated; inputs of other dtypes (bool masks, indices) are
// passed through unchanged, and f32 inputs are an error (finite differences in f32 are
// too coarse). Each input is copied with its strides, so a non-contiguous input is
// checked as non-contiguous, and the caller's tensors are never modified.
//
// Analytic: one backward per output element j with the one-hot gradient e_j gives
// row j of the Jacobian. Numeric: for each input element, (f(x + eps) - f(x - eps)) / 2eps.
// Entry (input element, output element) passes when |analytic - numeric| <= atol + rtol |numeric|.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace lowbit {

struct GradcheckResult {
  bool ok = true;
  std::string message;  // empty when ok; otherwise the number of failing entries and the worst one
  // The worst entry (largest |analytic - numeric| relative to its tolerance), on failure:
  int64_t input = -1;   // which input
  Shape input_index;    // which element of it
  Shape output_index;   // which output element
  double analytic = 0;
  double numeric = 0;
  int64_t failures = 0;  // Jacobian entries outside the tolerance
};

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& inputs,
                          double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3);

}  // namespace lowbit
