// bbftp control-stream framing, decoding and encoding. Pure: bytes in, messages out.
//
// The control connection is a byte stream: a request may arrive in several segments or together
// with the next one. frame() says how many buffered bytes form the next message, which is not
// always 8 + msglen (see the quirks in Frame rules below); decode() turns them into a Message;
// encode() produces exactly the bytes the real peers put on the wire.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "proto/bbftp/messages.hpp"

namespace ferry::bbftp {

inline constexpr std::size_t kHeaderSize = 8;

struct Header {
  std::uint32_t code = 0;
  std::uint32_t msglen = 0;  // payload bytes declared by the sender
};

enum class Errc {
  need_more,  // fewer bytes buffered than the message needs: read more, nothing was consumed
  too_long,   // declared payload beyond the context's limit: a hostile or broken peer
  malformed,  // the bytes cannot be this message
};
const char* to_string(Errc e) noexcept;

template <class T>
using Result = ferry::Result<T, Errc>;

enum class Direction { to_server, to_client };

struct Context {
  Direction direction = Direction::to_server;
  // Negotiated protocol (1, 2, 3). Protocol 1 changes the framing of STORE/RETR (always 576
  // bytes) and of RETR_START/ABR/CREATE_ZERO (header only), whatever msglen says.
  int version = 3;
  std::size_t max_payload = std::size_t{1} << 20;
};

// Frame rules:
//  - MSG_TRANS_OK_V3 (to client): 48-byte echo + 4 * nbstream port bytes, though msglen says 48
//    (no ports when the echoed filesize is 0);
//  - MSG_TRANS_START_V3 / MSG_TRANS_SIMUL_V3 (to server): msglen = 4 * nbstream, no payload;
//  - protocol 1, to server: STORE*/RETR* are 576 bytes, RETR_START/ABR/CREATE_ZERO header only;
//  - everything else: msglen bytes.
struct Frame {
  Header header;
  std::size_t payload_size = 0;  // bytes after the header that belong to this message
  std::size_t size() const noexcept { return kHeaderSize + payload_size; }
};

Header decode_header(std::span<const std::byte, kHeaderSize> in) noexcept;
void encode_header(const Header& h, std::span<std::byte, kHeaderSize> out) noexcept;

// Errors: need_more (nothing consumed), too_long, malformed.
Result<Frame> frame(Bytes in, const Context& ctx);
// `payload` is the frame's payload_size bytes. Errors: malformed.
Result<Message> decode(const Header& header, Bytes payload, const Context& ctx);

struct Decoded {
  Message message;
  std::size_t consumed = 0;
};
// frame() then decode(): the next whole message and how many bytes it used.
Result<Decoded> decode_next(Bytes in, const Context& ctx);

// Header + payload, byte for byte as the real peers send it.
std::vector<std::byte> encode(const Message& m);
void encode_to(const Message& m, std::vector<std::byte>& out);

// mess_store_v2 alone (48 bytes), as used inside TRANS_OK_V3 too.
void encode_params(const TransferParams& p, std::span<std::byte, kStoreV2Size> out) noexcept;
TransferParams decode_params(std::span<const std::byte, kStoreV2Size> in) noexcept;

// mess_store_v2 carries times as 8 lowercase hex digits of a time_t ("%08x"), no NUL.
std::array<char, 8> encode_time(std::int64_t t) noexcept;
// The time, or -1 when the field is not 8 hex digits (a RETR_V2 sends zeros).
std::int64_t decode_time(const std::array<char, 8>& field) noexcept;

// The per-block header of compressed data streams (mess_compress, 8 bytes).
inline constexpr std::uint32_t kDataCompressed = 1;
inline constexpr std::uint32_t kDataRaw = 0;
struct BlockHeader {
  std::uint32_t code = kDataCompressed;
  std::uint32_t datalen = 0;
};
BlockHeader decode_block_header(std::span<const std::byte, 8> in) noexcept;
void encode_block_header(const BlockHeader& h, std::span<std::byte, 8> out) noexcept;

}  // namespace ferry::bbftp
