// AES-256-GCM through OpenSSL, the one AEAD both protocols' sealed modes use: the 16-byte tag
// is appended to the ciphertext; opening fails (nothing) on any change to either or to `aad`.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace ferry::crypto {

inline constexpr std::size_t kGcmTag = 16;
using GcmKey = std::array<std::uint8_t, 32>;
using GcmNonce = std::array<std::uint8_t, 12>;

// Empty only if OpenSSL fails (the peer then drops what it cannot open).
std::vector<std::uint8_t> aes256gcm_seal(const GcmKey& key, const GcmNonce& nonce,
                                         std::span<const std::uint8_t> aad,
                                         std::span<const std::uint8_t> clear);
std::optional<std::vector<std::uint8_t>> aes256gcm_open(const GcmKey& key, const GcmNonce& nonce,
                                                        std::span<const std::uint8_t> aad,
                                                        std::span<const std::uint8_t> sealed);

}  // namespace ferry::crypto
