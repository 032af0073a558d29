// The bbftp extension's keys (docs/protocol/bbftp-extended.md, section 3): the transcript hash,
// the per-connection keys HKDF derives from the X25519 secret and both nonces, the sealed
// records of the control channel (AES-256-GCM, the nonce the direction's IV XOR the record
// number), and the proof a data connection opens with (section 5).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "crypto/aead.hpp"

namespace ferry::crypto {

using Digest32 = std::array<std::uint8_t, 32>;

// SHA-256 of MSG_CRYPT's whole payload (key and announcement, signature included) followed by
// MSG_EXT_LOGIN up to its sealed credentials.
Digest32 bbftp_transcript_hash(std::span<const std::uint8_t> crypt_payload,
                               std::span<const std::uint8_t> login_part);

struct BbftpKeys {
  GcmKey c2s{}, s2c{};
  GcmNonce c2s_iv{}, s2c_iv{};
  Digest32 data{};  // for the data connections' proofs
};
ferry::Result<BbftpKeys, std::string> derive_bbftp_keys(std::span<const std::uint8_t> shared,
                                                        std::span<const std::uint8_t> client_nonce,
                                                        std::span<const std::uint8_t> server_nonce,
                                                        const Digest32& transcript);

// One direction of the control channel: records sealed or opened in order, numbered from 0.
class RecordSealer {
 public:
  // `next`: the number of the next record (a session goes on where its pre-login process
  // stopped).
  RecordSealer(const GcmKey& key, const GcmNonce& iv, std::uint64_t next = 0)
      : key_(key), iv_(iv), next_(next) {}
  std::vector<std::uint8_t> seal(std::span<const std::uint8_t> clear,
                                 std::span<const std::uint8_t> aad = {});
  // Nothing when the record is not the next one of this direction, as sealed (then the
  // connection ends: the numbers are not advanced).
  std::optional<std::vector<std::uint8_t>> open(std::span<const std::uint8_t> sealed,
                                                std::span<const std::uint8_t> aad = {});
  std::uint64_t next() const noexcept { return next_; }
  const GcmKey& key() const noexcept { return key_; }
  const GcmNonce& iv() const noexcept { return iv_; }

 private:
  GcmNonce nonce() const noexcept;
  GcmKey key_;
  GcmNonce iv_;
  std::uint64_t next_ = 0;
};

// HMAC-SHA256(data key, "ferry bbftp v1 stream" || transfer u32 || stream u32).
Digest32 bbftp_stream_proof(const Digest32& data_key, std::uint32_t transfer, std::uint32_t stream);
bool equal_digests(const Digest32& a, const Digest32& b);  // constant time

}  // namespace ferry::crypto
