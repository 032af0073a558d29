#include "crypto/xftp_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <sys/random.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include "crypto/aead.hpp"

namespace ferry::crypto {
namespace {

struct KdfFree {
  void operator()(EVP_KDF* k) const noexcept { EVP_KDF_free(k); }
  void operator()(EVP_KDF_CTX* c) const noexcept { EVP_KDF_CTX_free(c); }
};

std::array<std::uint8_t, 12> gcm_nonce(const std::array<std::uint8_t, 4>& salt, std::uint64_t n) {
  std::array<std::uint8_t, 12> iv{};
  std::memcpy(iv.data(), salt.data(), 4);
  for (int i = 0; i < 8; ++i) iv[4 + i] = static_cast<std::uint8_t>(n >> (56 - 8 * i));
  return iv;
}

}  // namespace

ferry::Result<std::vector<std::uint8_t>, std::string> hkdf_sha256(ByteView ikm, ByteView salt,
                                                                  std::string_view info,
                                                                  std::size_t length) {
  std::unique_ptr<EVP_KDF, KdfFree> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return Unexpected(std::string("HKDF unavailable"));
  std::unique_ptr<EVP_KDF_CTX, KdfFree> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return Unexpected(std::string("HKDF context"));
  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  int n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(ikm.data()), ikm.size());
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t*>(salt.data()), salt.size());
  }
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                  const_cast<char*>(info.data()), info.size());
  params[n] = OSSL_PARAM_construct_end();
  std::vector<std::uint8_t> out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return Unexpected(std::string("HKDF derivation failed"));
  }
  return out;
}

std::array<std::uint8_t, 16> xftp_hello_mac(ByteView shared_key, ByteView bytes) {
  std::array<std::uint8_t, 16> mac{};
  auto k = hkdf_sha256(shared_key, {}, "ferry xftp v1 hello", 32);
  if (!k) return mac;  // all zero: never matches a real one
  std::uint8_t full[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), k->data(), static_cast<int>(k->size()), bytes.data(), bytes.size(), full,
           &len) == nullptr) {
    return mac;
  }
  std::memcpy(mac.data(), full, mac.size());
  return mac;
}

ferry::Result<XftpSealer, std::string> XftpSealer::derive(ByteView shared_key,
                                                          ByteView client_nonce,
                                                          ByteView server_nonce, Direction d) {
  std::vector<std::uint8_t> salt(client_nonce.begin(), client_nonce.end());
  salt.insert(salt.end(), server_nonce.begin(), server_nonce.end());
  const std::string name =
      d == Direction::client_to_server ? "ferry xftp v1 c2s" : "ferry xftp v1 s2c";
  auto key = hkdf_sha256(shared_key, salt, name, 32);
  auto iv = hkdf_sha256(shared_key, salt, name + " iv", 4);
  if (!key || !iv) return Unexpected(key ? iv.error() : key.error());
  XftpSealer s;
  std::memcpy(s.key_.data(), key->data(), 32);
  std::memcpy(s.iv_salt_.data(), iv->data(), 4);
  return s;
}

std::vector<std::uint8_t> XftpSealer::seal(ByteView header, ByteView body,
                                           std::uint64_t packet) const {
  // Empty if OpenSSL fails: an empty datagram body, which the peer drops.
  return aes256gcm_seal(key_, gcm_nonce(iv_salt_, packet), header, body);
}

std::optional<std::vector<std::uint8_t>> XftpSealer::open(ByteView header, ByteView sealed,
                                                          std::uint64_t packet) const {
  return aes256gcm_open(key_, gcm_nonce(iv_salt_, packet), header, sealed);
}

void xftp_sign_hello(std::vector<std::uint8_t>& datagram, ByteView shared_key) {
  if (datagram.size() < 16) return;
  const auto mac = xftp_hello_mac(shared_key, {datagram.data(), datagram.size() - 16});
  std::copy(mac.begin(), mac.end(), datagram.end() - 16);
}

bool xftp_hello_authentic(ByteView datagram, ByteView shared_key) {
  if (datagram.size() < 16) return false;
  const auto mac = xftp_hello_mac(shared_key, datagram.first(datagram.size() - 16));
  return CRYPTO_memcmp(mac.data(), datagram.data() + datagram.size() - 16, 16) == 0;
}

bool equal_tags(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void random_bytes(std::span<std::uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) == 1) return;
  // OpenSSL's generator failed to seed: the kernel's, directly.
  std::size_t at = 0;
  while (at < out.size()) {
    const auto n = ::getrandom(out.data() + at, out.size() - at, 0);
    if (n > 0) at += static_cast<std::size_t>(n);
  }
}

ferry::Result<std::vector<std::uint8_t>, std::string> read_xftp_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unexpected("cannot read key file " + path);
  std::vector<std::uint8_t> key((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  if (key.size() < 32) {
    return Unexpected("key file " + path + " holds " + std::to_string(key.size()) +
                      " bytes; at least 32 random bytes are needed (head -c 32 /dev/urandom)");
  }
  return key;
}

}  // namespace ferry::crypto
