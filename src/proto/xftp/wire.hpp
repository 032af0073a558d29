// Big-endian field writing and bounds-checked reading for the extended-mode codecs. Internal to
// proto/xftp.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/bytes.hpp"

namespace ferry::xftp::ext::wire {

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    u8(static_cast<std::uint8_t>(v >> 8));
    u8(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    u16(static_cast<std::uint16_t>(v));
  }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
  }
  template <std::size_t N>
  void fixed(const std::array<std::uint8_t, N>& a) {
    out_.insert(out_.end(), a.begin(), a.end());
  }
  void raw(const std::uint8_t* p, std::size_t n) { out_.insert(out_.end(), p, p + n); }
  // u16 length, then the bytes (at most 65535 of them: longer is cut).
  void str(const std::string& s) {
    const std::size_t n = std::min<std::size_t>(s.size(), 0xFFFF);
    u16(static_cast<std::uint16_t>(n));
    raw(reinterpret_cast<const std::uint8_t*>(s.data()), n);
  }
  std::vector<std::uint8_t> take() { return std::move(out_); }

 private:
  std::vector<std::uint8_t> out_;
};

// Callers check need() before each read.
class Reader {
 public:
  explicit Reader(Bytes b) : b_(b) {}
  bool need(std::size_t n) const noexcept { return b_.size() - at_ >= n; }
  std::size_t left() const noexcept { return b_.size() - at_; }
  std::uint8_t u8() { return ferry::u8(b_[at_++]); }
  std::uint16_t u16() {
    const auto hi = u8();
    return static_cast<std::uint16_t>((hi << 8) | u8());
  }
  std::uint32_t u32() {
    const std::uint32_t hi = u16();
    return (hi << 16) | u16();
  }
  std::uint64_t u64() {
    const std::uint64_t hi = u32();
    return (hi << 32) | u32();
  }
  template <std::size_t N>
  std::array<std::uint8_t, N> fixed() {
    std::array<std::uint8_t, N> a{};
    std::memcpy(a.data(), b_.data() + at_, N);
    at_ += N;
    return a;
  }
  // A u16-length string; false when the datagram ends first.
  bool str(std::string& out) {
    if (!need(2)) return false;
    const std::size_t n = u16();
    if (!need(n)) return false;
    out.assign(reinterpret_cast<const char*>(b_.data() + at_), n);
    at_ += n;
    return true;
  }
  std::vector<std::uint8_t> rest() {
    std::vector<std::uint8_t> v(left());
    if (!v.empty()) std::memcpy(v.data(), b_.data() + at_, v.size());
    at_ = b_.size();
    return v;
  }

 private:
  Bytes b_;
  std::size_t at_ = 0;
};

}  // namespace ferry::xftp::ext::wire
