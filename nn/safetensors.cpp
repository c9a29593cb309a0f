// safetensors writer and validating reader. The format and its rules are in
// safetensors.h; the reference implementation is huggingface/safetensors
// (safetensors/src/tensor.rs: `serialize` pads the header with spaces to a multiple of
// 8 and orders the buffer by dtype alignment; `Metadata::validate` requires the
// tensors to tile the buffer exactly). JSON is handled by nlohmann::json and stays in
// this file.
#include "nn/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "tensor/atomic_file.h"

namespace lowbit::nn {

// The format is little-endian and we copy bytes straight into tensors.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

// ordered_json keeps the header's key order, which is the order we return tensors in.
using Json = nlohmann::ordered_json;

constexpr const char* kMetadataKey = "__metadata__";
// The reference implementation refuses headers above 100 MB (MAX_HEADER_SIZE); a larger
// size field means the file is not a safetensors file (or its first bytes are damaged).
constexpr uint64_t kMaxHeaderSize = 100'000'000;

struct DTypeName {
  const char* name;
  DType dtype;
};
constexpr DTypeName kDTypes[] = {{"F64", DType::f64}, {"F32", DType::f32}, {"I64", DType::i64}, {"I32", DType::i32},
                                 {"I8", DType::i8},   {"U8", DType::u8},   {"BOOL", DType::b8}};
// dtypes of the spec that lowbit has no tensor type for: named as "unsupported" rather
// than "unknown", so the user knows the file itself is fine.
constexpr const char* kOtherSpecDTypes[] = {"F16",     "BF16",    "I16",     "U16",     "U32", "U64", "F8_E4M3",
                                            "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",  "C64"};

const char* spec_name(DType dtype) {
  for (const DTypeName& d : kDTypes)
    if (d.dtype == dtype) return d.name;
  return nullptr;
}

// One tensor entry of the header, validated.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;  // byte range in the buffer
};

// A JSON value for an error message: short flat values as JSON text, others summarised
// (a hostile header may hold huge arrays, or nest a million levels deep: dump() recurses).
std::string show(const Json& v) {
  bool flat = v.is_primitive() || v.size() <= 16;
  if (flat && !v.is_primitive())
    for (const Json& item : v) flat = flat && item.is_primitive();
  if (!flat) return str_cat("a JSON ", v.type_name(), " of ", v.size(), " elements");
  const std::string text = v.dump();
  return text.size() <= 200 ? text : text.substr(0, 200) + "...";
}

DType parse_dtype(const std::string& where, const std::string& name, const Json& value) {
  LOWBIT_CHECK(value.is_string(), where, "tensor '", name, "': \"dtype\" must be a string, got ", show(value));
  const std::string text = value.get<std::string>();
  for (const DTypeName& d : kDTypes)
    if (text == d.name) return d.dtype;
  for (const char* other : kOtherSpecDTypes)
    LOWBIT_CHECK(text != other, where, "tensor '", name, "' has dtype ", text,
                 ", which lowbit does not support (it reads F64 F32 I64 I32 I8 U8 BOOL)");
  throw_error(str_cat(where, "tensor '", name, "' has unknown dtype '", text, "'"));
}

// A JSON number that is a non-negative integer fitting `limit`; `what` names it for errors.
uint64_t parse_count(const std::string& where, const std::string& name, const Json& v, const char* what,
                     uint64_t limit) {
  if (v.is_number_unsigned() && v.get<uint64_t>() <= limit) return v.get<uint64_t>();
  if (v.is_number_integer() && !v.is_number_unsigned())
    throw_error(str_cat(where, "tensor '", name, "': ", what, " has a negative value ", show(v)));
  throw_error(str_cat(where, "tensor '", name, "': ", what, " has ", show(v), " where a non-negative integer",
                      limit < std::numeric_limits<uint64_t>::max() ? " (below 2^63)" : "", " is expected"));
}

Entry parse_entry(const std::string& where, const std::string& name, const Json& info, uint64_t buffer_size) {
  LOWBIT_CHECK(info.is_object(), where, "tensor '", name, "': entry must be a JSON object, got ", show(info));
  for (const char* key : {"dtype", "shape", "data_offsets"})
    LOWBIT_CHECK(info.contains(key), where, "tensor '", name, "': entry has no \"", key, "\"");
  // Unknown fields could change how the bytes are meant to be read: refuse to guess.
  for (const auto& [key, value] : info.items())
    LOWBIT_CHECK(key == "dtype" || key == "shape" || key == "data_offsets", where, "tensor '", name,
                 "': unexpected key \"", key, "\" in its entry (expected dtype, shape, data_offsets)");

  Entry e{name, parse_dtype(where, name, info.at("dtype")), {}, 0, 0};

  const Json& shape = info.at("shape");
  LOWBIT_CHECK(shape.is_array(), where, "tensor '", name, "': \"shape\" must be an array, got ", show(shape));
  // numel, and the product of the non-zero dims (what strides are made of), must both fit
  // an int64 (also for shapes with a 0 dim) and numel * itemsize must not overflow.
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  int64_t numel = 1, span = 1;
  for (const Json& dim : shape) {
    const auto d = static_cast<int64_t>(parse_count(where, name, dim, "\"shape\"", kMax));
    e.shape.push_back(d);
    const bool overflow =
        __builtin_mul_overflow(numel, d, &numel) || __builtin_mul_overflow(span, std::max<int64_t>(d, 1), &span);
    LOWBIT_CHECK(!overflow, where, "tensor '", name, "': shape ", show(shape),
                 " has too many elements (overflows 64 bits)");
  }
  int64_t nbytes = 0;
  LOWBIT_CHECK(!__builtin_mul_overflow(numel, static_cast<int64_t>(dtype_size(e.dtype)), &nbytes), where, "tensor '",
               name, "': shape ", show(shape), " is too large (its byte size overflows 64 bits)");

  const Json& offsets = info.at("data_offsets");
  LOWBIT_CHECK(offsets.is_array() && offsets.size() == 2, where, "tensor '", name,
               "': \"data_offsets\" must be an array [begin, end], got ", show(offsets));
  const uint64_t any = std::numeric_limits<uint64_t>::max();
  e.begin = parse_count(where, name, offsets[0], "\"data_offsets\"", any);
  e.end = parse_count(where, name, offsets[1], "\"data_offsets\"", any);
  LOWBIT_CHECK(e.begin <= e.end, where, "tensor '", name, "': data_offsets [", e.begin, ", ", e.end,
               "] has begin > end");
  LOWBIT_CHECK(e.end <= buffer_size, where, "tensor '", name, "': data_offsets [", e.begin, ", ", e.end,
               "] run past the end of the data buffer (", buffer_size, " bytes; is the file truncated?)");
  LOWBIT_CHECK(e.end - e.begin == static_cast<uint64_t>(nbytes), where, "tensor '", name, "': data_offsets [", e.begin,
               ", ", e.end, "] hold ", e.end - e.begin, " bytes but ", spec_name(e.dtype), " ", shape_str(e.shape),
               " needs ", nbytes);
  return e;
}

// The spec: "the byte buffer needs to be entirely indexed, and cannot contain holes".
// Sorted by offset, each tensor must start exactly where the previous one ended and
// the last must end at the end of the buffer (the rule of the reference `validate`).
void check_tiling(const std::string& where, const std::vector<Entry>& entries, uint64_t buffer_size) {
  std::vector<const Entry*> sorted;
  for (const Entry& e : entries) sorted.push_back(&e);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) {
    return std::pair(a->begin, a->end) < std::pair(b->begin, b->end);
  });
  uint64_t cursor = 0;
  const Entry* previous = nullptr;
  for (const Entry* e : sorted) {
    if (e->begin < cursor)
      throw_error(str_cat(where, "tensors '", previous->name, "' [", previous->begin, ", ", previous->end, ") and '",
                          e->name, "' [", e->begin, ", ", e->end, ") overlap in the data buffer"));
    LOWBIT_CHECK(e->begin == cursor, where, "bytes [", cursor, ", ", e->begin,
                 ") of the data buffer belong to no tensor (a hole before tensor '", e->name, "')");
    cursor = e->end;
    previous = e;
  }
  LOWBIT_CHECK(cursor == buffer_size, where, buffer_size - cursor,
               " trailing bytes after the last tensor (the data buffer has ", buffer_size,
               " bytes, the header's tensors cover ", cursor, ")");
}

// nlohmann's default parse keeps one value of a repeated key without a word. This
// parser callback sees every key; it records the first one repeated within an object.
struct DuplicateKeyFinder {
  std::vector<std::set<std::string>> open_objects;  // keys seen, per enclosing object
  std::string entry;                                // the current top-level key
  std::string error;                                // first duplicate, described

  // `depth` of a key event is 1 for the keys of the top-level object.
  bool operator()(int depth, Json::parse_event_t event, Json& parsed) {
    using Event = Json::parse_event_t;
    if (event == Event::object_start) open_objects.emplace_back();
    if (event == Event::object_end) open_objects.pop_back();
    if (event == Event::key && !open_objects.empty()) {
      const std::string key = parsed.get<std::string>();
      const bool top = depth == 1;
      if (!open_objects.back().insert(key).second && error.empty())
        error = top ? str_cat("duplicate tensor name '", key, "' in the header")
                    : str_cat("the header entry '", entry, "' has the key \"", key, "\" twice");
      if (top) entry = key;
    }
    return true;  // keep everything
  }
};

}  // namespace

NamedTensors parse_safetensors(std::string_view bytes, const std::string& source,
                               std::map<std::string, std::string>* metadata) {
  // Prefix of every reading error: "safetensors: <file>: ".
  const std::string where = str_cat("safetensors: ", source, ": ");
  LOWBIT_CHECK(bytes.size() >= 8, where, "file is ", bytes.size(), " bytes, shorter than the 8-byte header size");
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);  // little-endian u64 (see the static_assert)
  LOWBIT_CHECK(header_size <= kMaxHeaderSize, where, "header size ", header_size, " is implausibly large (limit ",
               kMaxHeaderSize, " bytes; not a safetensors file?)");
  LOWBIT_CHECK(header_size <= bytes.size() - 8, where, "header size ", header_size, " runs past the end of the file (",
               bytes.size(), " bytes; is it truncated?)");
  const std::string_view header_text = bytes.substr(8, header_size);
  const std::string_view buffer = bytes.substr(8 + header_size);
  // nlohmann's lexer takes a NUL byte for the end of the input and would ignore what
  // follows. JSON text never contains a raw NUL (inside strings it must be escaped).
  const size_t nul = header_text.find('\0');
  LOWBIT_CHECK(nul == std::string_view::npos, where, "the header is not valid JSON (a NUL byte at header offset ", nul,
               "; padding must be spaces)");

  DuplicateKeyFinder duplicates;
  Json header;
  try {
    header = Json::parse(header_text.begin(), header_text.end(), std::ref(duplicates));
  } catch (const nlohmann::json::exception& e) {
    throw_error(str_cat(where, "the header is not valid JSON (", e.what(), ")"));
  }
  LOWBIT_CHECK(duplicates.error.empty(), where, duplicates.error);
  LOWBIT_CHECK(header.is_object(), where, "the header must be a JSON object, not ", header.type_name());

  if (metadata) metadata->clear();
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      LOWBIT_CHECK(value.is_object(), where, "\"__metadata__\" must be an object of strings, got ", show(value));
      for (const auto& [mkey, mvalue] : value.items()) {
        LOWBIT_CHECK(mvalue.is_string(), where, "\"__metadata__\" value of \"", mkey, "\" must be a string, got ",
                     show(mvalue));
        if (metadata) (*metadata)[mkey] = mvalue.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(where, key, value, buffer.size()));
  }
  check_tiling(where, entries, buffer.size());

  // Everything is valid; copy the bytes. Allocations are bounded by the file size.
  NamedTensors out;
  out.reserve(entries.size());
  for (const Entry& e : entries) {
    const char* src = buffer.data() + e.begin;
    const size_t nbytes = e.end - e.begin;
    if (e.dtype == DType::b8) {  // lowbit's bool is one byte holding 0 or 1, like torch.bool
      const auto* p = reinterpret_cast<const unsigned char*>(src);
      const auto bad = std::find_if(p, p + nbytes, [](unsigned char b) { return b > 1; });
      LOWBIT_CHECK(bad == p + nbytes, where, "tensor '", e.name, "' (BOOL) holds the byte ", int(*bad), " at element ",
                   bad - p, "; a bool must be 0 or 1");
    }
    Tensor t = empty(e.shape, e.dtype);
    if (nbytes > 0) std::memcpy(t.data_ptr(), src, nbytes);
    out.emplace_back(e.name, std::move(t));
  }
  return out;
}

NamedTensors load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  const std::string bytes = read_file(path, "safetensors");
  return parse_safetensors(bytes, path, metadata);
}

std::string safetensors_bytes(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata,
                              const std::string& source) {
  auto check = [&](bool cond, auto&&... parts) {
    if (!cond) throw_error(str_cat("save_safetensors: ", source, ": ", parts...));
  };
  std::set<std::string> names;
  std::vector<Tensor> host;  // contiguous host copies (the tensors themselves when already so)
  for (const auto& [name, t] : tensors) {
    check(!name.empty(), "a tensor has an empty name");
    check(name != kMetadataKey, "\"__metadata__\" is reserved for the metadata and cannot name a tensor");
    check(names.insert(name).second, "duplicate tensor name '", name, "'");
    check(t.defined(), "tensor '", name, "' is undefined");
    check(spec_name(t.dtype()) != nullptr, "tensor '", name, "' has dtype ", dtype_name(t.dtype()),
          ", which has no safetensors name");
    host.push_back(t.cpu().contiguous());
  }

  // Buffer order: 8-byte dtypes, then 4-byte, then 1-byte, otherwise as given. Every
  // byte size before a tensor is then a multiple of its element size, so each tensor
  // is aligned (see safetensors.h).
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return host[a].itemsize() > host[b].itemsize(); });
  std::vector<uint64_t> begin(tensors.size());
  uint64_t buffer_size = 0;
  for (size_t i : order) {
    begin[i] = buffer_size;
    buffer_size += static_cast<uint64_t>(host[i].numel()) * host[i].itemsize();
  }

  // Header: "__metadata__" first, then the tensors in the given order, each with its
  // keys in the reference's order (dtype, shape, data_offsets); compact JSON.
  Json header = Json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t nbytes = static_cast<uint64_t>(host[i].numel()) * host[i].itemsize();
    Json entry = Json::object();
    entry["dtype"] = spec_name(host[i].dtype());
    entry["shape"] = host[i].sizes();
    entry["data_offsets"] = {begin[i], begin[i] + nbytes};
    header[tensors[i].first] = std::move(entry);
  }
  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // names or metadata that are not UTF-8
    check(false, "cannot write the header: ", e.what());
  }
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // the reference pads to 8

  std::string out(8 + header_text.size() + buffer_size, '\0');
  const uint64_t header_size = header_text.size();
  std::memcpy(out.data(), &header_size, 8);  // little-endian u64
  std::memcpy(out.data() + 8, header_text.data(), header_text.size());
  char* buffer = out.data() + 8 + header_text.size();
  for (size_t i = 0; i < host.size(); ++i) {
    const size_t nbytes = static_cast<size_t>(host[i].numel()) * host[i].itemsize();
    if (nbytes > 0) std::memcpy(buffer + begin[i], host[i].data_ptr(), nbytes);
  }
  return out;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, safetensors_bytes(tensors, metadata, path));
}

}  // namespace lowbit::nn
