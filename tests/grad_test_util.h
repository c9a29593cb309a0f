// Helpers for the autograd suites: gradcheck wrapped as a GoogleTest assertion whose
// failure message names the case, the inputs and gradcheck's worst element.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "tensor/tensor.h"

namespace lowbit::test {

using GradFn = std::function<Tensor(const std::vector<Tensor>&)>;

inline ::testing::AssertionResult grad_ok(const GradFn& f, const std::vector<Tensor>& inputs, const std::string& what) {
  const GradcheckResult r = gradcheck(f, inputs);
  if (r.ok) return ::testing::AssertionSuccess();
  std::string shapes;
  for (const Tensor& x : inputs) shapes += " " + describe(x) + (x.is_contiguous() ? "" : " (strided)");
  return ::testing::AssertionFailure() << what << " with inputs" << shapes << ":\n  " << r.message;
}

}  // namespace lowbit::test
