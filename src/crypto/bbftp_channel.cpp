#include "crypto/bbftp_channel.hpp"

#include <algorithm>

namespace ferry::crypto {

std::vector<std::byte> BbftpChannel::seal(Bytes clear, std::span<const std::uint8_t> aad) {
  std::vector<std::byte> out;
  std::size_t at = 0;
  do {
    const std::size_t n = std::min(kMaxClear, clear.size() - at);
    const auto* p = reinterpret_cast<const std::uint8_t*>(clear.data() + at);
    const auto sealed = out_.seal(std::span<const std::uint8_t>(p, n), aad);
    std::byte len[4];
    store_be32(std::span<std::byte, 4>(len, 4), static_cast<std::uint32_t>(sealed.size()));
    out.insert(out.end(), len, len + 4);
    for (auto b : sealed) out.push_back(std::byte(b));
    at += n;
  } while (at < clear.size());
  return out;
}

ferry::Result<bool, BbftpChannel::Error> BbftpChannel::open_one(std::vector<std::byte>& clear,
                                                                std::span<const std::uint8_t> aad) {
  if (raw_.size() < 4) return false;
  const std::uint32_t len = load_be32(std::span<const std::byte, 4>(raw_.data(), 4));
  if (len > kMaxRecord || len < kGcmTag) return Unexpected(Error::too_long);
  if (raw_.size() - 4 < len) return false;
  const auto* p = reinterpret_cast<const std::uint8_t*>(raw_.data() + 4);
  auto opened = in_.open(std::span<const std::uint8_t>(p, len), aad);
  if (!opened) return Unexpected(Error::forged);
  for (auto b : *opened) clear.push_back(std::byte(b));
  raw_.erase(raw_.begin(), raw_.begin() + 4 + static_cast<std::ptrdiff_t>(len));
  return true;
}

ferry::Result<void, BbftpChannel::Error> BbftpChannel::open(Bytes raw,
                                                            std::vector<std::byte>& clear,
                                                            std::span<const std::uint8_t> aad) {
  feed(raw);
  for (;;) {
    auto one = open_one(clear, aad);
    if (!one) return Unexpected(one.error());
    if (!*one) return {};
  }
}

}  // namespace ferry::crypto
