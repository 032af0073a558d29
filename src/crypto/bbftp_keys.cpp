#include "crypto/bbftp_keys.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "crypto/xftp_keys.hpp"  // hkdf_sha256

namespace ferry::crypto {
namespace {

// The label, then the transcript hash: binds every key to this connection's exchange.
std::string info(std::string_view label, const Digest32& th) {
  std::string s(label);
  s.append(reinterpret_cast<const char*>(th.data()), th.size());
  return s;
}

template <std::size_t N>
ferry::Result<std::array<std::uint8_t, N>, std::string> expand(std::span<const std::uint8_t> shared,
                                                               std::span<const std::uint8_t> salt,
                                                               std::string_view label,
                                                               const Digest32& th) {
  auto v = hkdf_sha256(shared, salt, info(label, th), N);
  if (!v) return Unexpected(v.error());
  std::array<std::uint8_t, N> out{};
  std::copy(v->begin(), v->end(), out.begin());
  return out;
}

}  // namespace

Digest32 bbftp_transcript_hash(std::span<const std::uint8_t> crypt_payload,
                               std::span<const std::uint8_t> login_part) {
  Digest32 out{};
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned int n = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), crypt_payload.data(), crypt_payload.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), login_part.data(), login_part.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &n) != 1) {
    throw std::runtime_error("OpenSSL: SHA-256 unavailable");
  }
  return out;
}

ferry::Result<BbftpKeys, std::string> derive_bbftp_keys(std::span<const std::uint8_t> shared,
                                                        std::span<const std::uint8_t> client_nonce,
                                                        std::span<const std::uint8_t> server_nonce,
                                                        const Digest32& transcript) {
  std::vector<std::uint8_t> salt(client_nonce.begin(), client_nonce.end());
  salt.insert(salt.end(), server_nonce.begin(), server_nonce.end());
  auto c2s = expand<32>(shared, salt, "ferry bbftp v1 c2s", transcript);
  auto s2c = expand<32>(shared, salt, "ferry bbftp v1 s2c", transcript);
  auto c2s_iv = expand<12>(shared, salt, "ferry bbftp v1 c2s iv", transcript);
  auto s2c_iv = expand<12>(shared, salt, "ferry bbftp v1 s2c iv", transcript);
  auto data = expand<32>(shared, salt, "ferry bbftp v1 data", transcript);
  if (!c2s || !s2c || !c2s_iv || !s2c_iv || !data) {
    return Unexpected(std::string("HKDF failed"));
  }
  return BbftpKeys{*c2s, *s2c, *c2s_iv, *s2c_iv, *data};
}

GcmNonce RecordSealer::nonce() const noexcept {
  GcmNonce n = iv_;
  for (int i = 0; i < 8; ++i) n[11 - i] ^= static_cast<std::uint8_t>(next_ >> (8 * i));
  return n;
}

std::vector<std::uint8_t> RecordSealer::seal(std::span<const std::uint8_t> clear,
                                             std::span<const std::uint8_t> aad) {
  auto out = aes256gcm_seal(key_, nonce(), aad, clear);
  ++next_;
  return out;
}

std::optional<std::vector<std::uint8_t>> RecordSealer::open(std::span<const std::uint8_t> sealed,
                                                            std::span<const std::uint8_t> aad) {
  auto out = aes256gcm_open(key_, nonce(), aad, sealed);
  if (out) ++next_;
  return out;
}

Digest32 bbftp_stream_proof(const Digest32& data_key, std::uint32_t transfer,
                            std::uint32_t stream) {
  constexpr std::string_view kLabel = "ferry bbftp v1 stream";
  std::vector<std::uint8_t> msg(kLabel.begin(), kLabel.end());
  for (std::uint32_t v : {transfer, stream}) {
    for (int i = 3; i >= 0; --i) msg.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Digest32 out{};
  unsigned int n = 0;
  HMAC(EVP_sha256(), data_key.data(), static_cast<int>(data_key.size()), msg.data(), msg.size(),
       out.data(), &n);
  return out;
}

bool equal_digests(const Digest32& a, const Digest32& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ferry::crypto
