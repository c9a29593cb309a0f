// safetensors checkpoints: the format of Hugging Face's `safetensors`
// (https://github.com/huggingface/safetensors, README "Format"), which PyTorch users
// read and write with `safetensors.torch.load_file` / `save_file`.
//
// Layout of a file:
//   8 bytes      N, the header size, unsigned 64-bit little-endian
//   N bytes      a UTF-8 JSON object, padded with spaces (writers pad N to a multiple of 8)
//                  {"__metadata__": {"format": "pt"},
//                   "conv1.weight": {"dtype": "F32", "shape": [64,3,7,7], "data_offsets": [0, 37632]},
//                   ...}
//   the rest     the byte buffer: each tensor's bytes, row-major, little-endian, at
//                [begin, end) relative to the buffer start. The spec requires the buffer
//                to be fully indexed: no holes, no overlaps, no trailing bytes.
//
// Supported dtypes: F64 F32 I64 I32 I8 U8 BOOL (lowbit f64 f32 i64 i32 i8 u8 bool).
// Other spec dtypes (F16, BF16, ...) are rejected by name.
//
// Reading validates everything (DESIGN.md, contract 4): a missing, truncated or corrupt
// file raises lowbit::Error naming the file, the tensor when there is one, and the
// problem; nothing is loaded silently wrong. Writing is atomic (tensor/atomic_file.h).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace lowbit::nn {

// Named tensors in file order (the order of the header's JSON object).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Writes `tensors` (any device and layout: copied to the host and made contiguous)
// and the optional string `metadata` (the header's "__metadata__") to `path`,
// atomically. Rejects empty and duplicate names, the reserved name "__metadata__" and
// undefined tensors.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads every tensor of the file at `path` (CPU, contiguous, each owning its memory) in
// header order; stores "__metadata__" in *metadata when given (cleared first).
NamedTensors load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

// The same two steps without the file system: the exact bytes save_safetensors writes,
// and the parser load_safetensors runs on the file's bytes. `source` names the bytes
// in error messages (load_safetensors passes the path).
//
// Layout written: the header lists tensors in the given order; the buffer holds them
// ordered by element size, 8-byte types first (stable otherwise), the rule of the
// reference writer. Since the header is padded to a multiple of 8, every tensor then
// starts at a file offset that is a multiple of its element size, so memory-mapping
// readers (safetensors' safe_open, torch's view(dtype)) can use the bytes in place.
std::string safetensors_bytes(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata = {},
                              const std::string& source = "<memory>");
NamedTensors parse_safetensors(std::string_view bytes, const std::string& source,
                               std::map<std::string, std::string>* metadata = nullptr);

}  // namespace lowbit::nn
