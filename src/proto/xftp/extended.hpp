// XFTP extended mode (docs/protocol/xftp-extended.md): the datagrams our client and server speak
// to each other, magic 0xD0 (the original server drops any datagram that does not start with
// 0xCF, so a HELLO is safe to send it). Every datagram:
//   0xD0 | TYPE | CONNECTION ID (8) | PACKET NUMBER (8, big-endian) | BODY
// All integers big-endian. With a key, BODY is sealed by the session layer (AES-256-GCM, the
// 18-byte header as associated data); this codec sees the clear body. Pure: bytes in, values out.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace ferry::xftp::ext {

inline constexpr std::uint8_t kMagic = 0xD0;
inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 18;
inline constexpr std::size_t kTagSize = 16;    // AES-GCM tag, or the HELLO's MAC
inline constexpr std::size_t kNonceSize = 16;  // each side's HELLO nonce
// Datagram sizes: IPv6's minimum MTU (1280) less its 40-byte header and UDP's 8 is the size that
// crosses any path unfragmented; a HELLO offers at most what the sender's path allows.
inline constexpr std::size_t kMinDatagram = 1232;
inline constexpr std::size_t kMaxDatagram = 65507;

using ConnectionId = std::array<std::uint8_t, 8>;
using Nonce = std::array<std::uint8_t, kNonceSize>;
using Tag = std::array<std::uint8_t, kTagSize>;
using Checksum = std::array<std::uint8_t, 16>;  // XXH3-128, big-endian (canonical form)

enum class Type : std::uint8_t {
  hello = 0x01,
  hello_ok = 0x02,
  request = 0x03,
  reply = 0x04,
  data = 0x05,
  ack = 0x06,
  end = 0x07,
  end_ok = 0x08,
  abort = 0x09,
};

struct Header {
  Type type = Type::data;
  ConnectionId connection{};  // the receiver's ID (zero in a HELLO: the server has none yet)
  std::uint64_t packet = 0;   // per sender and connection, never reused (the AEAD nonce)
  bool operator==(const Header&) const = default;
};

namespace feature {
inline constexpr std::uint32_t kKeyed = 1u << 0;   // bodies sealed with the shared key
inline constexpr std::uint32_t kResume = 1u << 1;  // partial data kept and offered
}  // namespace feature

// HELLO (client -> server) and HELLO_OK (server -> client): the version and datagram size each
// side can take, features, the sender's connection ID and nonce; with a key, a MAC over all the
// bytes before it (the session layer computes and checks it).
struct Hello {
  std::uint8_t version = kVersion;
  std::uint16_t max_datagram = kMinDatagram;
  std::uint32_t features = 0;
  ConnectionId connection{};
  Nonce nonce{};
  std::optional<Tag> mac;  // present when features has kKeyed
  bool operator==(const Hello&) const = default;
};

// REQUEST and REPLY carry a command's fields; their bodies are defined with the commands
// (session layer); the codec keeps them as bytes.
struct Request {
  std::uint32_t id = 0;
  std::uint8_t command = 0;
  std::vector<std::uint8_t> body;
  bool operator==(const Request&) const = default;
};
struct Reply {
  std::uint32_t id = 0;
  std::uint8_t status = 0;
  std::vector<std::uint8_t> body;
  bool operator==(const Reply&) const = default;
};

// DATA: bytes [offset, offset + payload) of transfer `transfer`, as transmission `seq` (a
// retransmission of the same bytes gets a new seq).
struct Data {
  std::uint32_t transfer = 0;
  std::uint64_t seq = 0;
  std::uint64_t offset = 0;
  std::vector<std::uint8_t> payload;
  bool operator==(const Data&) const = default;
};
inline constexpr std::size_t kDataOverhead = kHeaderSize + 4 + 8 + 8;

// ACK: which transmissions arrived (ranges of seq, highest first, inclusive bounds as on the
// wire, held here half-open), the largest one and how long the receiver sat on it, and how far
// the sender may send (flow control: offsets below max_data).
struct AckRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // one past
  bool operator==(const AckRange&) const = default;
};
struct Ack {
  std::uint32_t transfer = 0;
  std::uint64_t largest = 0;
  std::uint32_t delay_us = 0;
  std::uint64_t max_data = 0;
  std::uint64_t contiguous = 0;  // every byte below it is in place (for progress and resume)
  std::vector<AckRange> ranges;
  bool operator==(const Ack&) const = default;
};
inline constexpr std::size_t kAckFixed = 4 + 8 + 4 + 8 + 8 + 1;
inline constexpr std::size_t kAckRangeSize = 16;
inline constexpr std::size_t kMaxAckRanges = 255;

// END: everything was acknowledged; the size and the whole file's checksum, to be checked before
// the file is put in place. END_OK: the receiver's verdict.
struct End {
  std::uint32_t transfer = 0;
  std::uint64_t size = 0;
  Checksum checksum{};
  bool operator==(const End&) const = default;
};
enum class EndStatus : std::uint8_t { in_place = 0, checksum_mismatch = 1, failed = 2 };
struct EndOk {
  std::uint32_t transfer = 0;
  EndStatus status = EndStatus::in_place;
  bool operator==(const EndOk&) const = default;
};
struct Abort {
  std::uint32_t transfer = 0;
  std::string reason;
  bool operator==(const Abort&) const = default;
};

using Body = std::variant<Hello, Request, Reply, Data, Ack, End, EndOk, Abort>;

struct Datagram {
  Header header;
  Body body;
  bool operator==(const Datagram&) const = default;
};

enum class Errc {
  too_short,     // shorter than a header, or than its type's fixed fields
  wrong_magic,   // not 0xD0 (a legacy datagram, or noise)
  unknown_type,  // a type this version does not know
  malformed,     // fields that contradict each other (counts, lengths, values)
};
const char* to_string(Errc e) noexcept;

// The header alone (enough to find the connection and, with a key, to open the body).
Result<Header, Errc> decode_header(Bytes datagram);
// A clear datagram: the header and its body (HELLO and HELLO_OK share the Hello layout: the
// header's type tells them apart).
Result<Datagram, Errc> decode(Bytes datagram);
// A body alone, of the type its header gave (a sealed body once opened).
Result<Body, Errc> decode_body(Type type, Bytes body);
std::vector<std::uint8_t> encode(const Datagram& d);
// Only the body, for sealing; encode() is header + encode_body().
std::vector<std::uint8_t> encode_header(const Header& h);
std::vector<std::uint8_t> encode_body(const Body& b);

// The type a body is sent as (Hello is HELLO from a client, HELLO_OK from a server).
Type type_of(const Body& b, bool from_server) noexcept;

}  // namespace ferry::xftp::ext
