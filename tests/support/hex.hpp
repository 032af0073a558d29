// Hex test vectors as bytes: "0a0b" -> {0x0a, 0x0b}; fixed<N> for the arrays keys and digests are.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::test {

inline std::vector<std::uint8_t> hex(std::string_view h) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> fixed(std::string_view h) {
  std::array<std::uint8_t, N> a{};
  const auto v = hex(h);
  std::copy_n(v.begin(), std::min(N, v.size()), a.begin());
  return a;
}

}  // namespace ferry::test
