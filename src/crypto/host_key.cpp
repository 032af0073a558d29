#include "crypto/host_key.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace ferry::crypto {
namespace {

std::string openssl_error(const char* what) {
  const unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return std::string(what) + ": " + buf;
}

EVP_PKEY* pkey(const std::unique_ptr<void, detail::PkeyFree>& p) {
  return static_cast<EVP_PKEY*>(p.get());
}

bool raw_public(EVP_PKEY* k, PublicKey& out) {
  std::size_t n = out.size();
  return EVP_PKEY_get_raw_public_key(k, out.data(), &n) == 1 && n == out.size();
}

}  // namespace

void detail::PkeyFree::operator()(void* p) const noexcept {
  EVP_PKEY_free(static_cast<EVP_PKEY*>(p));
}

ferry::Result<HostKey, std::string> HostKey::adopt(void* raw) {
  HostKey h;
  h.key_.reset(raw);
  if (EVP_PKEY_get_id(static_cast<EVP_PKEY*>(raw)) != EVP_PKEY_ED25519) {
    return Unexpected(std::string("not an Ed25519 key"));
  }
  if (!raw_public(static_cast<EVP_PKEY*>(raw), h.public_)) {
    return Unexpected(openssl_error("Ed25519 public key"));
  }
  return h;
}

ferry::Result<HostKey, std::string> HostKey::generate() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (k == nullptr) return Unexpected(openssl_error("Ed25519 key generation"));
  return adopt(k);
}

ferry::Result<HostKey, std::string> HostKey::from_seed(std::span<const std::uint8_t> seed) {
  if (seed.size() != 32) return Unexpected(std::string("an Ed25519 seed is 32 bytes"));
  EVP_PKEY* k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size());
  if (k == nullptr) return Unexpected(openssl_error("Ed25519 key"));
  return adopt(k);
}

ferry::Result<HostKey, std::string> HostKey::from_pem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return Unexpected(openssl_error("reading the host key"));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (k == nullptr) return Unexpected(openssl_error("reading the host key"));
  return adopt(k);
}

std::string HostKey::to_pem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), pkey(key_), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return {};
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

ferry::Result<HostKey, std::string> HostKey::load_or_create(const std::string& path, bool create) {
  const int existing = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (existing >= 0) {
    struct stat st {};
    std::string pem;
    bool read_ok = ::fstat(existing, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < 65536;
    if (read_ok && (st.st_mode & 077) != 0) {
      ::close(existing);
      char mode[8];
      std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
      return Unexpected(path + ": readable by others (mode " + mode +
                        "): chmod 600 it, or remove it to make a new key");
    }
    if (read_ok) {
      pem.resize(static_cast<std::size_t>(st.st_size));
      read_ok = ::read(existing, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size());
    }
    ::close(existing);
    if (!read_ok) return Unexpected(path + ": cannot read the host key");
    auto k = from_pem(pem);
    OPENSSL_cleanse(pem.data(), pem.size());
    if (!k) return Unexpected(path + ": " + k.error());
    return k;
  }
  if (errno != ENOENT || !create) return Unexpected(path + ": " + std::strerror(errno));
  auto k = generate();
  if (!k) return k;
  std::string pem = k->to_pem();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return load_or_create(path, create);  // made meanwhile by another
    return Unexpected(path + ": " + std::strerror(errno));
  }
  const ssize_t w = ::write(fd, pem.data(), pem.size());
  OPENSSL_cleanse(pem.data(), pem.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (w != static_cast<ssize_t>(pem.size()) || !synced) {
    ::unlink(path.c_str());
    return Unexpected(path + ": cannot write the new host key");
  }
  return k;
}

Signature HostKey::sign(std::span<const std::uint8_t> message) const {
  Signature sig{};
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t n = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey(key_)) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &n, message.data(), message.size()) != 1 ||
      n != sig.size()) {
    throw std::runtime_error(openssl_error("Ed25519 signing"));
  }
  return sig;
}

bool ed25519_verify(const PublicKey& key, std::span<const std::uint8_t> message,
                    const Signature& signature) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> k(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()),
      EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const bool ok = k && ctx &&
                  EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, k.get()) == 1 &&
                  EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                                   message.size()) == 1;
  ERR_clear_error();
  return ok;
}

std::string fingerprint(const PublicKey& key) {
  unsigned char digest[32];
  unsigned int n = 0;
  EVP_Digest(key.data(), key.size(), digest, &n, EVP_sha256(), nullptr);
  unsigned char b64[64];
  const int len = EVP_EncodeBlock(b64, digest, static_cast<int>(n));
  std::string s(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(len));
  while (!s.empty() && s.back() == '=') s.pop_back();
  return "SHA256:" + s;
}

ferry::Result<X25519Secret, std::string> X25519Secret::adopt(void* raw) {
  X25519Secret x;
  x.key_.reset(raw);
  std::size_t n = x.share_.size();
  if (EVP_PKEY_get_raw_public_key(static_cast<EVP_PKEY*>(raw), x.share_.data(), &n) != 1 ||
      n != x.share_.size()) {
    return Unexpected(openssl_error("X25519 share"));
  }
  return x;
}

ferry::Result<X25519Secret, std::string> X25519Secret::generate() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
  if (k == nullptr) return Unexpected(openssl_error("X25519 key generation"));
  return adopt(k);
}

ferry::Result<X25519Secret, std::string> X25519Secret::from_bytes(
    std::span<const std::uint8_t> secret) {
  if (secret.size() != 32) return Unexpected(std::string("an X25519 secret is 32 bytes"));
  EVP_PKEY* k =
      EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), secret.size());
  if (k == nullptr) return Unexpected(openssl_error("X25519 secret"));
  return adopt(k);
}

ferry::Result<std::array<std::uint8_t, 32>, std::string> X25519Secret::agree(
    const PublicKey& peer) const {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> theirs(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer.data(), peer.size()),
      EVP_PKEY_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new(static_cast<EVP_PKEY*>(key_.get()), nullptr), EVP_PKEY_CTX_free);
  std::array<std::uint8_t, 32> shared{};
  std::size_t n = shared.size();
  if (!theirs || !ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), theirs.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), shared.data(), &n) != 1 || n != shared.size()) {
    return Unexpected(openssl_error("X25519 agreement"));
  }
  std::uint8_t any = 0;
  for (auto b : shared) any |= b;
  if (any == 0) return Unexpected(std::string("X25519 agreement: the peer's share is degenerate"));
  return shared;
}

}  // namespace ferry::crypto
