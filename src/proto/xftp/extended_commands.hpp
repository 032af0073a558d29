// The fields of extended-mode REQUEST and REPLY bodies, per command (docs/protocol/
// xftp-extended.md, "REQUEST and REPLY"). Strings are u16 length + UTF-8; integers big-endian.
// Pure: bytes in, values out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "proto/xftp/extended.hpp"
#include "proto/xftp/legacy.hpp"
#include "proto/xftp/range_set.hpp"

namespace ferry::xftp::ext {

enum class Command : std::uint8_t {
  list = 0,
  stat = 1,
  upload = 2,
  download = 3,
  remove = 4,
  mkdir = 5,
  move = 6,
};
enum class Status : std::uint8_t {
  ok = 0,
  invalid = 1,
  not_found = 2,
  file_exists = 3,
  internal_error = 4,
  busy = 5,  // try again after the reply's retry_after_ms
};

// The same outcome in the other mode's words (xftpd's request handler speaks legacy's; BUSY,
// which legacy lacks, is INTERNAL_ERROR there).
Status from_legacy(xftp::Status s) noexcept;
xftp::Status to_legacy(Status s) noexcept;

enum class EntryType : std::uint8_t { file = 0, directory = 1, other = 2 };
struct Entry {
  std::string name;
  EntryType type = EntryType::file;
  std::uint32_t mode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  bool operator==(const Entry&) const = default;
};

inline constexpr std::uint8_t kResumeFlag = 1;

struct ListArgs {
  std::string path;
  std::uint32_t cursor = 0;
  std::uint16_t max_entries = 0;
  bool operator==(const ListArgs&) const = default;
};
struct PathArgs {  // STAT, DELETE, MKDIR
  std::string path;
  bool operator==(const PathArgs&) const = default;
};
struct MoveArgs {
  std::string from, to;
  bool operator==(const MoveArgs&) const = default;
};
struct UploadArgs {
  std::string path;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  Checksum checksum{};
  std::uint8_t flags = 0;
  bool operator==(const UploadArgs&) const = default;
};
struct DownloadArgs {
  std::string path;
  std::uint8_t flags = 0;
  std::vector<Range> present;  // what the client already holds (resume)
  bool operator==(const DownloadArgs&) const = default;
};

using RequestFields = std::variant<ListArgs, PathArgs, MoveArgs, UploadArgs, DownloadArgs>;
std::vector<std::uint8_t> encode_fields(const RequestFields& a);
// What a REQUEST's body says for its command; nothing when it does not parse.
std::optional<RequestFields> decode_fields(Command c, Bytes body);

struct ListResult {
  std::uint32_t next_cursor = 0;  // 0: the listing is complete
  std::vector<Entry> entries;
  bool operator==(const ListResult&) const = default;
};
// UPLOAD: where the transfer's datagrams go, and what the server already holds (resume): ranges
// of verified blocks, each with the XXH3-64 of its bytes, so the client can check them against
// its own file.
struct UploadResult {
  std::uint32_t transfer = 0;
  std::uint16_t data_port = 0;
  std::vector<Range> present;
  std::vector<std::uint64_t> range_checksums;
  bool operator==(const UploadResult&) const = default;
};
struct DownloadResult {
  std::uint32_t transfer = 0;
  std::uint16_t data_port = 0;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  Checksum checksum{};
  bool operator==(const DownloadResult&) const = default;
};
struct BusyResult {
  std::uint32_t retry_after_ms = 0;
  bool operator==(const BusyResult&) const = default;
};
using ReplyFields =
    std::variant<std::monostate, ListResult, Entry, UploadResult, DownloadResult, BusyResult>;
std::vector<std::uint8_t> encode_fields(const ReplyFields& r);
// A REPLY's body for `command` with `status`: nothing when it does not parse.
std::optional<ReplyFields> decode_fields(Command c, Status s, Bytes body);

}  // namespace ferry::xftp::ext
