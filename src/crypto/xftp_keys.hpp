// The keys of XFTP extended mode with a shared key (docs/protocol/xftp-extended.md, section 3),
// through OpenSSL: HKDF-SHA256 derivation, the HELLOs' HMAC-SHA256 (truncated to 16 bytes), and
// AES-256-GCM sealing of every other body with the header as associated data.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace ferry::crypto {

using ByteView = std::span<const std::uint8_t>;

// HKDF (RFC 5869) with SHA-256: `length` bytes from `ikm`, `salt` and `info`.
ferry::Result<std::vector<std::uint8_t>, std::string> hkdf_sha256(ByteView ikm, ByteView salt,
                                                                  std::string_view info,
                                                                  std::size_t length);

// The HELLO's MAC: HMAC-SHA256 under HKDF(key, "", "ferry xftp v1 hello"), first 16 bytes.
std::array<std::uint8_t, 16> xftp_hello_mac(ByteView shared_key, ByteView bytes);

// One direction's sealing key and IV salt, derived from the shared key and both nonces.
class XftpSealer {
 public:
  enum class Direction { client_to_server, server_to_client };
  static ferry::Result<XftpSealer, std::string> derive(ByteView shared_key, ByteView client_nonce,
                                                       ByteView server_nonce, Direction d);
  // body -> ciphertext || 16-byte tag; nonce = IV salt || packet number (big-endian).
  std::vector<std::uint8_t> seal(ByteView header, ByteView body, std::uint64_t packet) const;
  // Nothing when the tag does not match (tampered, forged, or another key).
  std::optional<std::vector<std::uint8_t>> open(ByteView header, ByteView sealed,
                                                std::uint64_t packet) const;

 private:
  std::array<std::uint8_t, 32> key_{};
  std::array<std::uint8_t, 4> iv_salt_{};
};

// A keyed HELLO or HELLO_OK ends with that MAC over every byte before it: fill it in (the
// datagram was encoded with room for it), or check it (in constant time).
void xftp_sign_hello(std::vector<std::uint8_t>& datagram, ByteView shared_key);
bool xftp_hello_authentic(ByteView datagram, ByteView shared_key);

// Compares two MACs in constant time.
bool equal_tags(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b);

// Fills `out` from the system's cryptographic random source (connection IDs, nonces).
void random_bytes(std::span<std::uint8_t> out);

// Reads a key file: at least 32 bytes, used whole (binary or text, as given).
ferry::Result<std::vector<std::uint8_t>, std::string> read_xftp_key_file(const std::string& path);

}  // namespace ferry::crypto
