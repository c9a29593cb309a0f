// Shapes and strides: small helpers shared by Tensor, the op layer and the tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lowbit {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& sizes);
Shape contiguous_strides(const Shape& sizes);  // row-major, in elements
std::string shape_str(const Shape& sizes);     // "[8,3,32,32]"

// NumPy broadcasting: aligns trailing dims; sizes must match or be 1.
// `op` names the caller for the error message.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

}  // namespace lowbit
