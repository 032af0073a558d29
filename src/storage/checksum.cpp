#include "storage/checksum.hpp"

#include <openssl/evp.h>
#include <xxhash.h>

#include "core/bulk_buffer.hpp"
// Debian's libxxhash picks the widest vector unit at run time (AVX2 where there is one: about
// 4x the default SSE2 speed) through its _dispatch functions; the header maps XXH3 onto them.
#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
#include <xxh_x86dispatch.h>
#endif

#include <cstdio>
#include <stdexcept>
#include <vector>

namespace ferry::storage {

struct Hasher::State {
  XXH3_state_t* xxh = nullptr;
  EVP_MD_CTX* evp = nullptr;
  ~State() {
    if (xxh != nullptr) XXH3_freeState(xxh);
    if (evp != nullptr) EVP_MD_CTX_free(evp);
  }
  void reset(Digest d) {
    // Allocation failures here are programmer-visible resource exhaustion, not bad input.
    if (d == Digest::xxh3_128 || d == Digest::xxh3_64) {
      if (xxh == nullptr && (xxh = XXH3_createState()) == nullptr) throw std::bad_alloc();
      if (d == Digest::xxh3_128) {
        XXH3_128bits_reset(xxh);
      } else {
        XXH3_64bits_reset(xxh);
      }
    } else {
      if (evp == nullptr && (evp = EVP_MD_CTX_new()) == nullptr) throw std::bad_alloc();
      if (EVP_DigestInit_ex(evp, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("OpenSSL: SHA-256 unavailable");
      }
    }
  }
};

namespace {
std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    s[2 * i] = kHex[p[i] >> 4];
    s[2 * i + 1] = kHex[p[i] & 0xf];
  }
  return s;
}
}  // namespace

std::string_view to_string(Digest d) noexcept {
  return d == Digest::sha256 ? "sha256" : d == Digest::xxh3_64 ? "xxh3-64" : "xxh3-128";
}

std::optional<Digest> parse_digest(std::string_view name) noexcept {
  if (name == "xxh3-128" || name == "xxh3" || name == "xxh128") return Digest::xxh3_128;
  if (name == "sha256" || name == "sha-256") return Digest::sha256;
  return std::nullopt;
}

Hasher::Hasher(Digest d) : digest_(d), state_(std::make_unique<State>()) {
  state_->reset(d);
}
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

void Hasher::update(Bytes data) {
  if (digest_ == Digest::xxh3_128) {
    XXH3_128bits_update(state_->xxh, data.data(), data.size());
  } else if (digest_ == Digest::xxh3_64) {
    XXH3_64bits_update(state_->xxh, data.data(), data.size());
  } else {
    EVP_DigestUpdate(state_->evp, data.data(), data.size());
  }
}

std::vector<std::uint8_t> Hasher::finish() {
  std::vector<std::uint8_t> out;
  if (digest_ == Digest::xxh3_128) {
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(state_->xxh));
    out.assign(canon.digest, canon.digest + sizeof canon.digest);
  } else if (digest_ == Digest::xxh3_64) {
    XXH64_canonical_t canon;
    XXH64_canonicalFromHash(&canon, XXH3_64bits_digest(state_->xxh));
    out.assign(canon.digest, canon.digest + sizeof canon.digest);
  } else {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(state_->evp, md, &len);
    out.assign(md, md + len);
  }
  state_->reset(digest_);
  return out;
}

std::string to_hex(const std::vector<std::uint8_t>& digest) {
  return to_hex(digest.data(), digest.size());
}

std::string Hasher::finish_hex() {
  const auto d = finish();
  return to_hex(d.data(), d.size());
}

Result<std::string> checksum_file(const File& file, Digest d) {
  Hasher h(d);
  BulkBuffer buf(1 << 20);
  std::uint64_t offset = 0;
  for (;;) {
    auto n = file.pread_some(buf.span(), offset);
    if (!n) return Unexpected(std::move(n).error());
    if (*n == 0) break;
    h.update(Bytes(buf.data(), *n));
    offset += *n;
  }
  return h.finish_hex();
}

}  // namespace ferry::storage
