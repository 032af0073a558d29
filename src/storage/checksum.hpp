// Streaming checksums of file contents: XXH3-128 by default (fast enough to keep up with memory
// bandwidth), SHA-256 through OpenSSL when a cryptographic digest is wanted.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "storage/error.hpp"
#include "storage/file.hpp"

namespace ferry::storage {

// xxh3_64: the bbftp extension's per-block sums (8 bytes); the others are whole-file digests.
enum class Digest { xxh3_128, sha256, xxh3_64 };

std::string_view to_string(Digest d) noexcept;
std::optional<Digest> parse_digest(std::string_view name) noexcept;

class Hasher {
 public:
  explicit Hasher(Digest d = Digest::xxh3_128);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  Digest digest() const noexcept { return digest_; }
  void update(Bytes data);
  // Lowercase hex of the digest; the hasher starts over afterwards.
  std::string finish_hex();
  // The digest's bytes (XXH3 in its canonical big-endian form); starts over afterwards.
  std::vector<std::uint8_t> finish();
  static std::size_t size_of(Digest d) noexcept {
    return d == Digest::xxh3_64 ? 8 : d == Digest::xxh3_128 ? 16 : 32;
  }

 private:
  struct State;
  Digest digest_;
  std::unique_ptr<State> state_;
};

// Lowercase hex of a digest's bytes.
std::string to_hex(const std::vector<std::uint8_t>& digest);

// Reads the whole file with pread (its offset is untouched).
Result<std::string> checksum_file(const File& file, Digest d = Digest::xxh3_128);

}  // namespace ferry::storage
