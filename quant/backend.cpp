#include "quant/backend.h"

#include <array>

#include "tensor/error.h"

namespace lowbit::quant {

const char* to_string(GraphPolicy graph) {
  switch (graph) {
    case GraphPolicy::academic: return "1";
    case GraphPolicy::tensorrt: return "2";
    case GraphPolicy::full: return "3";
  }
  return "?";
}

QuantizerConfig BackendConfig::weight_config(int64_t out_channels, int bits) const {
  QuantizerConfig c;
  c.bits = bits;
  c.kind = weight_kind;
  c.scheme = weight_scheme;
  c.power_of_two = power_of_two;
  c.ch_axis = weight_per_channel ? 0 : -1;
  c.channels = weight_per_channel ? out_channels : 1;
  c.policy = policy;
  check_config("BackendConfig::weight_config", c);
  return c;
}

QuantizerConfig BackendConfig::activation_config(bool non_negative, int bits) const {
  QuantizerConfig c;
  c.bits = bits;
  c.kind = non_negative && unsigned_when_non_negative ? IntKind::unsigned_full : activation_kind;
  c.scheme = activation_scheme;
  c.power_of_two = power_of_two;
  c.policy = policy;
  check_config("BackendConfig::activation_config", c);
  return c;
}

namespace {

const char* bool_str(bool b) { return b ? "true" : "false"; }

// The kind as str() prints it and apply_override reads it.
const char* kind_key(IntKind k) {
  switch (k) {
    case IntKind::signed_full: return "signed";
    case IntKind::signed_narrow: return "narrow";
    case IntKind::unsigned_full: return "unsigned";
  }
  return "?";
}

}  // namespace

std::string BackendConfig::str() const {
  return str_cat("name=", name, " weight_bits=", weight_bits, " activation_bits=", activation_bits,
                 " weight_per_channel=", bool_str(weight_per_channel), " weight_scheme=", to_string(weight_scheme),
                 " weight_kind=", kind_key(weight_kind), " activation_scheme=", to_string(activation_scheme),
                 " activation_kind=", kind_key(activation_kind),
                 " unsigned_when_non_negative=", bool_str(unsigned_when_non_negative),
                 " power_of_two=", bool_str(power_of_two), " graph=", to_string(graph), " fold_bn=", bool_str(fold_bn),
                 " first_last_8bit=", bool_str(first_last_8bit), " policy=(", to_string(policy), ")");
}

const std::vector<std::string>& backend_names() {
  static const std::vector<std::string> names = {"academic", "tensorrt", "acl", "tvm", "snpe", "fbgemm"};
  return names;
}

BackendConfig backend_preset(std::string_view name, int weight_bits, int activation_bits) {
  BackendConfig c;
  c.name = std::string(name);
  c.weight_bits = weight_bits;
  c.activation_bits = activation_bits;
  const QScheme asym = QScheme::asymmetric;
  if (name == "academic") {
    c.unsigned_when_non_negative = true;
  } else if (name == "tensorrt") {
    c.weight_per_channel = true;
    c.weight_kind = c.activation_kind = IntKind::signed_narrow;
    c.graph = GraphPolicy::tensorrt;
    c.fold_bn = true;
  } else if (name == "acl") {
    c.weight_per_channel = true;
    c.activation_scheme = asym;
    c.activation_kind = IntKind::unsigned_full;
    c.fold_bn = true;
  } else if (name == "tvm") {
    c.power_of_two = true;
    c.graph = GraphPolicy::full;
    c.fold_bn = true;
  } else if (name == "snpe") {
    c.weight_scheme = c.activation_scheme = asym;
    c.weight_kind = c.activation_kind = IntKind::unsigned_full;
    c.graph = GraphPolicy::full;
    c.fold_bn = true;
  } else if (name == "fbgemm") {
    c.weight_per_channel = true;
    c.weight_scheme = c.activation_scheme = asym;
    c.activation_kind = IntKind::unsigned_full;
    c.graph = GraphPolicy::full;
    c.fold_bn = true;
  } else {
    throw_error(str_cat("backend_preset: unknown backend '", name,
                        "' (expected academic, tensorrt, acl, tvm, snpe or fbgemm)"));
  }
  c.weight_config(1, weight_bits);  // validates the bit widths
  c.activation_config(false, activation_bits);
  return c;
}

namespace {

bool parse_bool(std::string_view key, std::string_view v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw_error(str_cat("backend override ", key, "=", v, ": expected true or false"));
}

int parse_bits(std::string_view key, std::string_view v) {
  int bits = 0;
  for (char ch : v) {
    LOWBIT_CHECK(ch >= '0' && ch <= '9' && bits < 100, "backend override ", key, "=", v, ": expected a bit width");
    bits = bits * 10 + (ch - '0');
  }
  LOWBIT_CHECK(!v.empty(), "backend override ", key, "=: expected a bit width");
  int_range(bits, IntKind::signed_full);  // 2..8 or 16, with its own error
  return bits;
}

QScheme parse_scheme(std::string_view key, std::string_view v) {
  if (v == "symmetric") return QScheme::symmetric;
  if (v == "asymmetric") return QScheme::asymmetric;
  throw_error(str_cat("backend override ", key, "=", v, ": expected symmetric or asymmetric"));
}

IntKind parse_kind(std::string_view key, std::string_view v) {
  for (IntKind k : {IntKind::signed_full, IntKind::signed_narrow, IntKind::unsigned_full})
    if (v == kind_key(k)) return k;
  throw_error(str_cat("backend override ", key, "=", v, ": expected signed, narrow or unsigned"));
}

}  // namespace

void apply_override(BackendConfig& c, std::string_view assignment) {
  const size_t eq = assignment.find('=');
  LOWBIT_CHECK(eq != std::string_view::npos && eq > 0, "backend override '", assignment, "': expected key=value");
  const std::string_view key = assignment.substr(0, eq), v = assignment.substr(eq + 1);
  if (key == "weight_bits") c.weight_bits = parse_bits(key, v);
  else if (key == "activation_bits") c.activation_bits = parse_bits(key, v);
  else if (key == "weight_per_channel") c.weight_per_channel = parse_bool(key, v);
  else if (key == "weight_scheme") c.weight_scheme = parse_scheme(key, v);
  else if (key == "weight_kind") c.weight_kind = parse_kind(key, v);
  else if (key == "activation_scheme") c.activation_scheme = parse_scheme(key, v);
  else if (key == "activation_kind") c.activation_kind = parse_kind(key, v);
  else if (key == "unsigned_when_non_negative") c.unsigned_when_non_negative = parse_bool(key, v);
  else if (key == "power_of_two") c.power_of_two = parse_bool(key, v);
  else if (key == "fold_bn") c.fold_bn = parse_bool(key, v);
  else if (key == "first_last_8bit") c.first_last_8bit = parse_bool(key, v);
  else if (key == "policy") c.policy = policy_preset(v);
  else if (key == "graph") {
    if (v == "1") c.graph = GraphPolicy::academic;
    else if (v == "2") c.graph = GraphPolicy::tensorrt;
    else if (v == "3") c.graph = GraphPolicy::full;
    else throw_error(str_cat("backend override graph=", v, ": expected 1, 2 or 3"));
  } else {
    throw_error(str_cat("backend override: unknown key '", key,
                        "' (expected weight_bits, activation_bits, weight_per_channel, weight_scheme, weight_kind, "
                        "activation_scheme, activation_kind, unsigned_when_non_negative, power_of_two, graph, "
                        "fold_bn, first_last_8bit or policy)"));
  }
}

}  // namespace lowbit::quant
