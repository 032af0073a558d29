// The bbftp extension's sealed control channel (docs/protocol/bbftp-extended.md, section 3):
// each write becomes one or more records, `u32 length | AES-256-GCM(the usual bbftp bytes) |
// tag`, and the reader opens them in order and decodes the clear bytes as the usual message
// stream (a record may hold several messages, a message may span records). Pure: bytes in,
// bytes out.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "crypto/bbftp_keys.hpp"

namespace ferry::crypto {

class BbftpChannel {
 public:
  // The most clear bytes one record holds (a longer write is cut into several records).
  static constexpr std::size_t kMaxClear = 256 * 1024;
  static constexpr std::size_t kMaxRecord = kMaxClear + kGcmTag;

  BbftpChannel(RecordSealer out, RecordSealer in, const Digest32& data_key, std::uint32_t features)
      : out_(out), in_(in), data_key_(data_key), features_(features) {}

  // `clear` as records, ready to write. `aad` is bound to each of them (the login's transcript
  // hash for the first reply; nothing afterwards).
  std::vector<std::byte> seal(Bytes clear, std::span<const std::uint8_t> aad = {});

  enum class Error {
    too_long,  // a length beyond kMaxRecord: not our peer, or broken
    forged,    // a record that does not open (changed, replayed, reordered, wrong key)
  };
  // Takes `raw` bytes from the wire and appends the clear bytes of every whole record to
  // `clear`; a part of a record waits for the next call.
  ferry::Result<void, Error> open(Bytes raw, std::vector<std::byte>& clear,
                                  std::span<const std::uint8_t> aad = {});
  // Opens exactly one whole record at the front of `raw_` (after `feed`), if there is one: the
  // login's reply, opened with its own associated data before the rest.
  void feed(Bytes raw) { raw_.insert(raw_.end(), raw.begin(), raw.end()); }
  ferry::Result<bool, Error> open_one(std::vector<std::byte>& clear,
                                      std::span<const std::uint8_t> aad = {});

  const Digest32& data_key() const noexcept { return data_key_; }
  std::uint32_t features() const noexcept { return features_; }
  const RecordSealer& sealer() const noexcept { return out_; }
  const RecordSealer& opener() const noexcept { return in_; }
  // Bytes received and not yet opened (a record's beginning).
  std::size_t pending() const noexcept { return raw_.size(); }

 private:
  RecordSealer out_;
  RecordSealer in_;
  Digest32 data_key_;
  std::uint32_t features_;
  std::vector<std::byte> raw_;
};

}  // namespace ferry::crypto
