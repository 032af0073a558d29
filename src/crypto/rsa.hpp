// RSA for bbftp's login, through OpenSSL 3. The wire dictates the shape: a fresh 1024-bit key per
// connection (ciphertext fields are 128 bytes), the public key sent as two OpenSSL MPI blobs, and
// user and password encrypted separately with OAEP (SHA-1, MGF1-SHA-1, empty label: OpenSSL's
// RSA_PKCS1_OAEP_PADDING defaults).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace ferry::crypto {

template <class T>
using Result = ferry::Result<T, std::string>;  // error: OpenSSL's reason, for logs

using Mpi = std::vector<std::uint8_t>;  // BN_bn2mpi: 4-byte BE length, then the magnitude

struct KeyDeleter {
  void operator()(EVP_PKEY* k) const noexcept;
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;

// The server's per-connection key pair.
class RsaPrivateKey {
 public:
  // A fresh key of `bits` bits with public exponent 65537.
  static Result<RsaPrivateKey> generate(int bits = 1024);
  // PEM (PKCS#1 or PKCS#8), for tests with a published key.
  static Result<RsaPrivateKey> from_pem(std::string_view pem);

  Mpi modulus_mpi() const;
  Mpi exponent_mpi() const;
  std::size_t size_bytes() const;  // 128 for 1024 bits

  // OAEP decryption. Errors: the ciphertext does not decrypt under this key.
  Result<std::string> decrypt(std::span<const std::uint8_t> ciphertext) const;

 private:
  explicit RsaPrivateKey(KeyPtr k) : key_(std::move(k)) {}
  KeyPtr key_;
};

// The client's view of the server's key.
class RsaPublicKey {
 public:
  // Any modulus size and public exponent the server sends (older daemons used e = 3).
  static Result<RsaPublicKey> from_mpi(std::span<const std::uint8_t> modulus,
                                       std::span<const std::uint8_t> exponent);
  std::size_t size_bytes() const;
  // OAEP encryption; at most size_bytes() - 42 bytes of plaintext (86 for 1024 bits).
  Result<std::vector<std::uint8_t>> encrypt(std::string_view plaintext) const;

 private:
  explicit RsaPublicKey(KeyPtr k) : key_(std::move(k)) {}
  KeyPtr key_;
};

}  // namespace ferry::crypto
