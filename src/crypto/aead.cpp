#include "crypto/aead.hpp"

#include <openssl/evp.h>

#include <cstring>
#include <memory>

namespace ferry::crypto {
namespace {
struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
}  // namespace

std::vector<std::uint8_t> aes256gcm_seal(const GcmKey& key, const GcmNonce& nonce,
                                         std::span<const std::uint8_t> aad,
                                         std::span<const std::uint8_t> clear) {
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
  std::vector<std::uint8_t> out(clear.size() + kGcmTag);
  int len = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &len, clear.data(),
                        static_cast<int>(clear.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTag, out.data() + clear.size()) !=
          1) {
    return {};
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> aes256gcm_open(const GcmKey& key, const GcmNonce& nonce,
                                                        std::span<const std::uint8_t> aad,
                                                        std::span<const std::uint8_t> sealed) {
  if (sealed.size() < kGcmTag) return std::nullopt;
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
  const std::size_t n = sealed.size() - kGcmTag;
  std::vector<std::uint8_t> out(n);
  std::array<std::uint8_t, kGcmTag> tag{};
  std::memcpy(tag.data(), sealed.data() + n, kGcmTag);
  int len = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out.data(), &len, sealed.data(), static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTag, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &len) != 1) {
    return std::nullopt;
  }
  return out;
}

}  // namespace ferry::crypto
