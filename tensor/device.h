// Where a tensor's bytes live: host memory or one CUDA device.
#pragma once

#include <cstdint>
#include <string>

namespace lowbit {

enum class DeviceType : uint8_t { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;  // CUDA ordinal; always 0 for the CPU

  static Device cpu() { return {DeviceType::cpu, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::cuda, index}; }
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  bool operator==(const Device&) const = default;
  std::string str() const;  // "cpu", "cuda:0"
};

// Parses "cpu", "cuda" or "cuda:N"; throws lowbit::Error otherwise.
Device parse_device(const std::string& text);

}  // namespace lowbit
