// The bbftp extension's public-key pieces through OpenSSL (docs/protocol/bbftp-extended.md,
// sections 3 and 4): the daemon's long-term Ed25519 host key (sign; verify with the public half;
// the fingerprint users compare), and the ephemeral X25519 shares of each login.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace ferry::crypto {

using PublicKey = std::array<std::uint8_t, 32>;
namespace detail {
struct PkeyFree {  // EVP_PKEY_free, without OpenSSL's headers here
  void operator()(void* p) const noexcept;
};
}  // namespace detail
using Signature = std::array<std::uint8_t, 64>;

class HostKey {
 public:
  static ferry::Result<HostKey, std::string> generate();
  // From its 32-byte seed (tests, vectors), or from PKCS#8 PEM (the key file).
  static ferry::Result<HostKey, std::string> from_seed(std::span<const std::uint8_t> seed);
  static ferry::Result<HostKey, std::string> from_pem(std::string_view pem);
  // Loads the key file, or creates it (mode 0600, exclusively) when it does not exist and
  // `create` says so. The file's text is wiped from memory once read.
  static ferry::Result<HostKey, std::string> load_or_create(const std::string& path,
                                                            bool create = true);

  std::string to_pem() const;
  const PublicKey& public_key() const noexcept { return public_; }
  Signature sign(std::span<const std::uint8_t> message) const;

 private:
  static ferry::Result<HostKey, std::string> adopt(void* pkey);
  std::unique_ptr<void, detail::PkeyFree> key_;  // EVP_PKEY
  PublicKey public_{};
};

bool ed25519_verify(const PublicKey& key, std::span<const std::uint8_t> message,
                    const Signature& signature);

// "SHA256:" and the unpadded base64 of the SHA-256 of the 32-byte public key.
std::string fingerprint(const PublicKey& key);

// One side's ephemeral X25519 secret: its share to send, and the shared secret with the peer's.
class X25519Secret {
 public:
  static ferry::Result<X25519Secret, std::string> generate();
  static ferry::Result<X25519Secret, std::string> from_bytes(std::span<const std::uint8_t> secret);
  const PublicKey& share() const noexcept { return share_; }
  // Fails for a share that gives the all-zero secret (a low-order point sent to cancel ours).
  ferry::Result<std::array<std::uint8_t, 32>, std::string> agree(const PublicKey& peer) const;

 private:
  static ferry::Result<X25519Secret, std::string> adopt(void* pkey);
  std::unique_ptr<void, detail::PkeyFree> key_;  // EVP_PKEY
  PublicKey share_{};
};

}  // namespace ferry::crypto
