// The bbftp extension between our peers (docs/protocol/bbftp-extended.md): the announcement our
// daemon appends to MSG_CRYPT, what its host key signs there, and the client's MSG_EXT_LOGIN.
// Pure: bytes in, values out (the signing and sealing are the crypto layer's).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/bbftp/messages.hpp"

namespace ferry::bbftp::ext {

inline constexpr std::string_view kMagic = "FERRYBX1";
inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::uint8_t kEd25519 = 1;
namespace feature {
inline constexpr std::uint32_t kResume = 1U << 0;
inline constexpr std::uint32_t kChecksums = 1U << 1;
inline constexpr std::uint32_t kStreamProofs = 1U << 2;
inline constexpr std::uint32_t kSha256 = 1U << 3;  // with kChecksums: SHA-256 instead of XXH3
}  // namespace feature
// The messages only our peers exchange, inside the login.
inline constexpr std::uint32_t kMsgExtLogin = 0xF1;
inline constexpr std::uint32_t kMsgExtLoginOk = 0xF2;
// On a data stream, receiver to sender, instead of MSG_ACK: these blocks again (u32 indexes
// within the segment).
inline constexpr std::uint32_t kMsgExtResend = 0xF3;
// On the control channel, from the side that sent the data: its whole-file checksum.
inline constexpr std::uint32_t kMsgExtSum = 0xF4;
// On the control channel, client to daemon: a stored file's whole-file checksum, please (the
// payload is its path); the answer is MSG_OK "xxh3-128 HEX" (or "sha256 HEX").
inline constexpr std::uint32_t kMsgExtChecksum = 0xF5;
// On the control channel, before a transfer (docs/protocol/bbftp-extended.md, section 6): the
// ranges of the file the receiver has already. Empty, from the client before STORE_V2: the
// next store may resume (the daemon offers what it has before TRANS_OK).
inline constexpr std::uint32_t kMsgExtResume = 0xF6;
// The integrity block: what one block sum covers (section 7); data moves in whole blocks. 1 MiB,
// doubled for files so large that they would pass 64Ki blocks (to 64 MiB): the partial data's
// record (storage/partial_record) keeps one entry per block.
inline constexpr std::uint64_t kIntegrityBlock = 1 << 20;
std::uint64_t integrity_block(std::uint64_t file_size) noexcept;
inline constexpr int kMaxResendRounds = 3;

using Bytes32 = std::array<std::uint8_t, 32>;
using Bytes64 = std::array<std::uint8_t, 64>;

struct Announcement {
  std::uint8_t version = kVersion;
  std::uint32_t features = 0;
  Bytes32 nonce{};
  Bytes32 share{};  // the daemon's X25519 share
  std::uint8_t key_type = kEd25519;
  Bytes32 host_key{};
  Bytes64 signature{};
  bool operator==(const Announcement&) const = default;
};
inline constexpr std::size_t kAnnouncementSize = 8 + 1 + 4 + 32 + 32 + 1 + 32 + 64;

std::vector<std::uint8_t> encode(const Announcement& a);
// MSG_CRYPT's appended bytes as an announcement; nothing when they are not one (a daemon
// without the extension appends nothing). Fields a later version inserts before the signature
// are skipped: the signature is always the last 64 bytes.
std::optional<Announcement> decode_announcement(std::span<const std::uint8_t> appended);

// What the host key signs: the context string, a u32 length, then MSG_CRYPT's payload (mess_sec,
// the key, the announcement) up to the signature. `key.appended` holds the announcement.
std::vector<std::uint8_t> signed_bytes(const CryptKey& key);
inline constexpr std::string_view kAnnouncementContext = "ferry bbftp extension v1 announcement";

// MSG_EXT_LOGIN's payload (client to daemon): what it wants, its nonce and share, and the
// credentials sealed under the derived key (crypto's job; opaque here).
struct ExtLogin {
  std::uint8_t version = kVersion;
  std::uint32_t features = 0;
  Bytes32 nonce{};
  Bytes32 share{};
  std::vector<std::uint8_t> sealed;
  bool operator==(const ExtLogin&) const = default;
};
inline constexpr std::size_t kExtLoginFixed = 1 + 4 + 32 + 32;
inline constexpr std::size_t kMaxSealedCredentials = 4096;
std::vector<std::uint8_t> encode(const ExtLogin& l);
std::optional<ExtLogin> decode_ext_login(std::span<const std::uint8_t> payload);
// The part of MSG_EXT_LOGIN the transcript hash covers (everything before the sealed bytes).
std::vector<std::uint8_t> transcript_part(const ExtLogin& l);

// The credentials inside the seal: u16 length and the user, u16 length and the password.
struct Credentials {
  std::string user;
  std::string password;
  bool operator==(const Credentials&) const = default;
};
std::vector<std::uint8_t> encode(const Credentials& c);
std::optional<Credentials> decode_credentials(std::span<const std::uint8_t> clear);

// MSG_EXT_SUM's payload: u8 flags | u8 digest (1 XXH3-128, 2 SHA-256) | the digest.
struct ExtSum {
  static constexpr std::uint8_t kChanged = 1;        // the file changed while being sent
  static constexpr std::uint8_t kStreamsFailed = 2;  // the sender's own streams failed
  std::uint8_t flags = 0;
  std::uint8_t digest = 1;
  std::vector<std::uint8_t> sum;
  bool operator==(const ExtSum&) const = default;
};
std::vector<std::uint8_t> encode(const ExtSum& s);
std::optional<ExtSum> decode_ext_sum(std::span<const std::uint8_t> payload);

// MSG_EXT_RESUME's payload: the file's size, then ranges of whole integrity blocks (ascending,
// apart, the last may end at the size), each with the XXH3-64 of its bytes. The receiver offers
// what it verified; the sender answers with the offered ranges its own file matches.
struct ResumeRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // one past the end
  std::uint64_t sum = 0;
  bool operator==(const ResumeRange&) const = default;
};
struct ExtResume {
  std::uint64_t size = 0;
  std::vector<ResumeRange> ranges;
  std::uint64_t bytes() const noexcept;
  bool operator==(const ExtResume&) const = default;
};
inline constexpr std::size_t kMaxResumeRanges = 4096;  // 96 KiB: within one sealed record
std::vector<std::uint8_t> encode(const ExtResume& r);
std::optional<ExtResume> decode_ext_resume(std::span<const std::uint8_t> payload);
// `answer` takes only ranges `offer` made (what a sender may answer).
bool answers(const ExtResume& answer, const ExtResume& offer) noexcept;

// MSG_EXT_LOGIN_OK's payload (daemon to client, the first sealed record): the highest protocol
// it serves, the features it accepted (within the asked), and the usual OK text.
struct ExtLoginOk {
  std::uint8_t protocol_max = 3;
  std::uint32_t features = 0;
  std::string text;
  bool operator==(const ExtLoginOk&) const = default;
};
std::vector<std::uint8_t> encode(const ExtLoginOk& ok);
std::optional<ExtLoginOk> decode_ext_login_ok(std::span<const std::uint8_t> payload);

}  // namespace ferry::bbftp::ext
