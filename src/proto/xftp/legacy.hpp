// XFTP legacy framing (magic 0xCF), as the original Python client and server put it on the wire:
//   0xCF | STATUS | CMD | ID (8 bytes) | DATA (to the end of the datagram)
// No length, no terminator. Data datagrams of a transfer carry raw file bytes with no header at
// all; a zero-length datagram ends a transfer. Pure: bytes in, values out.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace ferry::xftp {

inline constexpr std::uint8_t kMagic = 0xCF;
inline constexpr std::size_t kHeaderSize = 11;
// The original reads every datagram into 4096 bytes: never send it more in one datagram.
inline constexpr std::size_t kLegacyDatagram = 4096;

enum class Status : std::uint8_t {
  request = 0x00,
  ok = 0x01,
  invalid = 0x02,
  not_found = 0x03,
  file_exists = 0x04,
  internal_error = 0x05,
  ack = 0x06,
};

enum class Command : std::uint8_t {
  list = 0x00,
  upload = 0x01,
  download = 0x02,
  remove = 0x03,  // DELETE
  move = 0x04,
  mkdir = 0x05,
  nothing = 0xFF,  // in the client's download ACKs
};

using Id = std::array<std::uint8_t, 8>;

struct Datagram {
  Status status = Status::request;
  std::uint8_t command = 0;  // a Command, or any byte a peer sent
  Id id{};
  std::string data;  // bytes, not necessarily text
  bool operator==(const Datagram&) const = default;
};

enum class Errc {
  too_short,    // fewer than 11 bytes
  wrong_magic,  // byte 0 is not 0xCF (extended-mode datagrams start with another byte)
};

Result<Datagram, Errc> decode(Bytes datagram);
std::vector<std::uint8_t> encode(const Datagram& d);

// OK replies to UPLOAD / DOWNLOAD carry the data port, 2 bytes little-endian.
std::string encode_port(std::uint16_t port);
std::optional<std::uint16_t> decode_port(std::string_view data);

// The 11-byte ACKs of a transfer: CF 06 01 ID (server, upload) and CF 06 FF ID (client, download).
Datagram upload_ack(const Id& id);
Datagram download_ack(const Id& id);

// For logs and messages: "LIST", "UPLOAD", ... ("unknown command"); "OK", "NOT_FOUND", ...
const char* command_name(std::uint8_t command);
const char* status_name(Status status);

// MOVE's data: source, one NUL, destination.
std::string encode_move(std::string_view from, std::string_view to);
std::optional<std::pair<std::string, std::string>> decode_move(std::string_view data);

// LIST's JSON exactly as Python's json.dumps writes it: {"dirs": [...], "files": [...]} with ", "
// and ": " separators, non-ASCII as lowercase \uXXXX (surrogate pairs beyond the BMP), bytes
// that are not UTF-8 as \udcXX (what Python's surrogateescape decoding gives them).
std::string list_json(const std::vector<std::string>& dirs, const std::vector<std::string>& files);
// JSON string escaping of one name, quotes included.
std::string json_string(std::string_view name);

struct Listing {
  std::vector<std::string> dirs;
  std::vector<std::string> files;
};
// Parses a LIST reply; names come back as the bytes they were on the server (UTF-8, or with the
// \udcXX escapes of undecodable bytes turned back into those bytes). Errors: not the expected
// JSON shape.
Result<Listing, std::string> parse_list_json(std::string_view json);

}  // namespace ferry::xftp
