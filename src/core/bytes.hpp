// Fixed-width integer load/store on byte spans. Both protocols put integers on the wire in a
// fixed byte order whatever the host is (bbftp: big-endian; XFTP ports: little-endian).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace ferry {

using Bytes = std::span<const std::byte>;
using MutableBytes = std::span<std::byte>;

constexpr std::uint8_t u8(std::byte b) noexcept {
  return static_cast<std::uint8_t>(b);
}

constexpr std::uint16_t load_le16(std::span<const std::byte, 2> p) noexcept {
  return static_cast<std::uint16_t>(u8(p[0]) | (u8(p[1]) << 8));
}
constexpr void store_le16(std::span<std::byte, 2> p, std::uint16_t v) noexcept {
  p[0] = std::byte(v & 0xff);
  p[1] = std::byte(v >> 8);
}
constexpr std::uint32_t load_be32(std::span<const std::byte, 4> p) noexcept {
  return (std::uint32_t{u8(p[0])} << 24) | (std::uint32_t{u8(p[1])} << 16) |
         (std::uint32_t{u8(p[2])} << 8) | std::uint32_t{u8(p[3])};
}
constexpr void store_be32(std::span<std::byte, 4> p, std::uint32_t v) noexcept {
  p[0] = std::byte(v >> 24);
  p[1] = std::byte((v >> 16) & 0xff);
  p[2] = std::byte((v >> 8) & 0xff);
  p[3] = std::byte(v & 0xff);
}
constexpr std::uint64_t load_be64(std::span<const std::byte, 8> p) noexcept {
  return (std::uint64_t{load_be32(p.first<4>())} << 32) | load_be32(p.last<4>());
}
constexpr void store_be64(std::span<std::byte, 8> p, std::uint64_t v) noexcept {
  store_be32(p.first<4>(), static_cast<std::uint32_t>(v >> 32));
  store_be32(p.last<4>(), static_cast<std::uint32_t>(v));
}

inline Bytes as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
// Codecs hand out encoded messages as byte vectors.
inline Bytes as_bytes(const std::vector<std::uint8_t>& v) noexcept {
  return {reinterpret_cast<const std::byte*>(v.data()), v.size()};
}
inline std::string_view as_chars(Bytes b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace ferry
