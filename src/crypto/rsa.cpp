#include "crypto/rsa.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

namespace ferry::crypto {
namespace {

std::string openssl_error(std::string_view what) {
  std::string msg(what);
  if (const unsigned long e = ERR_get_error(); e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    msg += ": ";
    msg += buf;
  }
  ERR_clear_error();
  return msg;
}

struct BnDeleter {
  void operator()(BIGNUM* b) const noexcept { BN_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;
struct CtxDeleter {
  void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, CtxDeleter>;

Mpi mpi_of(EVP_PKEY* key, const char* param) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, param, &raw) != 1) return {};
  BnPtr bn(raw);
  Mpi out(static_cast<std::size_t>(BN_bn2mpi(bn.get(), nullptr)));
  BN_bn2mpi(bn.get(), out.data());
  return out;
}

CtxPtr oaep_ctx(EVP_PKEY* key, bool encrypt) {
  CtxPtr ctx(EVP_PKEY_CTX_new(key, nullptr));
  if (!ctx) return nullptr;
  const int init = encrypt ? EVP_PKEY_encrypt_init(ctx.get()) : EVP_PKEY_decrypt_init(ctx.get());
  if (init != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1) {
    return nullptr;
  }
  return ctx;
}

}  // namespace

void KeyDeleter::operator()(EVP_PKEY* k) const noexcept {
  EVP_PKEY_free(k);
}

Result<RsaPrivateKey> RsaPrivateKey::generate(int bits) {
  EVP_PKEY* k = EVP_RSA_gen(static_cast<unsigned>(bits));  // e = 65537
  if (k == nullptr) return Unexpected(openssl_error("RSA key generation failed"));
  return RsaPrivateKey(KeyPtr(k));
}

Result<RsaPrivateKey> RsaPrivateKey::from_pem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return Unexpected(openssl_error("BIO_new_mem_buf"));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (k == nullptr) return Unexpected(openssl_error("not a PEM private key"));
  return RsaPrivateKey(KeyPtr(k));
}

Mpi RsaPrivateKey::modulus_mpi() const {
  return mpi_of(key_.get(), OSSL_PKEY_PARAM_RSA_N);
}
Mpi RsaPrivateKey::exponent_mpi() const {
  return mpi_of(key_.get(), OSSL_PKEY_PARAM_RSA_E);
}
std::size_t RsaPrivateKey::size_bytes() const {
  return static_cast<std::size_t>(EVP_PKEY_get_size(key_.get()));
}

Result<std::string> RsaPrivateKey::decrypt(std::span<const std::uint8_t> ciphertext) const {
  auto ctx = oaep_ctx(key_.get(), false);
  if (!ctx) return Unexpected(openssl_error("OAEP setup failed"));
  std::size_t len = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &len, ciphertext.data(), ciphertext.size()) != 1) {
    return Unexpected(openssl_error("OAEP decryption failed"));
  }
  std::string out(len, '\0');
  if (EVP_PKEY_decrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                       ciphertext.data(), ciphertext.size()) != 1) {
    return Unexpected(openssl_error("OAEP decryption failed"));
  }
  out.resize(len);
  return out;
}

Result<RsaPublicKey> RsaPublicKey::from_mpi(std::span<const std::uint8_t> modulus,
                                            std::span<const std::uint8_t> exponent) {
  BnPtr n(BN_mpi2bn(modulus.data(), static_cast<int>(modulus.size()), nullptr));
  BnPtr e(BN_mpi2bn(exponent.data(), static_cast<int>(exponent.size()), nullptr));
  if (!n || !e || BN_is_negative(n.get()) || BN_is_negative(e.get()) || BN_is_zero(e.get()) ||
      BN_num_bits(n.get()) < 512) {
    return Unexpected(openssl_error("invalid RSA public key"));
  }
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (bld == nullptr || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    OSSL_PARAM_BLD_free(bld);
    return Unexpected(openssl_error("OSSL_PARAM_BLD"));
  }
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  OSSL_PARAM_BLD_free(bld);
  CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* k = nullptr;
  const bool ok = params != nullptr && ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
                  EVP_PKEY_fromdata(ctx.get(), &k, EVP_PKEY_PUBLIC_KEY, params) == 1;
  OSSL_PARAM_free(params);
  if (!ok) return Unexpected(openssl_error("invalid RSA public key"));
  return RsaPublicKey(KeyPtr(k));
}

std::size_t RsaPublicKey::size_bytes() const {
  return static_cast<std::size_t>(EVP_PKEY_get_size(key_.get()));
}

Result<std::vector<std::uint8_t>> RsaPublicKey::encrypt(std::string_view plaintext) const {
  auto ctx = oaep_ctx(key_.get(), true);
  if (!ctx) return Unexpected(openssl_error("OAEP setup failed"));
  const auto* in = reinterpret_cast<const unsigned char*>(plaintext.data());
  std::size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, in, plaintext.size()) != 1) {
    return Unexpected(openssl_error("OAEP encryption failed"));
  }
  std::vector<std::uint8_t> out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, in, plaintext.size()) != 1) {
    return Unexpected(openssl_error("OAEP encryption failed (too long?)"));
  }
  out.resize(len);
  return out;
}

}  // namespace ferry::crypto
