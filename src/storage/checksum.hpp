// Streaming checksums of file contents: XXH3-128 by default (fast enough to keep up with memory
// bandwidth), SHA-256 through OpenSSL when a cryptographic digest is wanted.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "storage/error.hpp"
#include "storage/file.hpp"

namespace ferry::storage {

enum class Digest { xxh3_128, sha256 };

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

 private:
  struct State;
  Digest digest_;
  std::unique_ptr<State> state_;
};

// Reads the whole file with pread (its offset is untouched).
Result<std::string> checksum_file(const File& file, Digest d = Digest::xxh3_128);

}  // namespace ferry::storage
