#include "proto/xftp/extended_commands.hpp"

#include "core/overloaded.hpp"
#include "proto/xftp/wire.hpp"

namespace ferry::xftp::ext {
namespace {

using wire::Reader;
using wire::Writer;

constexpr std::size_t kMaxRanges = 4096;  // what one datagram could hold, and then some

void write_ranges(Writer& w, const std::vector<Range>& ranges) {
  const std::size_t n = std::min(ranges.size(), kMaxRanges);
  w.u16(static_cast<std::uint16_t>(n));
  for (std::size_t i = 0; i < n; ++i) {
    w.u64(ranges[i].first);
    w.u64(ranges[i].last);
  }
}

// Ranges must be non-empty, ascending and apart.
bool read_ranges(Reader& r, std::vector<Range>& out) {
  if (!r.need(2)) return false;
  const std::size_t n = r.u16();
  if (!r.need(n * 16)) return false;
  std::uint64_t above = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Range x{r.u64(), r.u64()};
    if (x.first >= x.last || (i > 0 && x.first <= above)) return false;
    above = x.last;
    out.push_back(x);
  }
  return true;
}

void write_entry(Writer& w, const Entry& e) {
  w.str(e.name);
  w.u8(static_cast<std::uint8_t>(e.type));
  w.u32(e.mode);
  w.u64(e.size);
  w.u64(static_cast<std::uint64_t>(e.mtime));
}

bool read_entry(Reader& r, Entry& e) {
  if (!r.str(e.name) || !r.need(1 + 4 + 8 + 8)) return false;
  const auto t = r.u8();
  if (t > static_cast<std::uint8_t>(EntryType::other)) return false;
  e.type = static_cast<EntryType>(t);
  e.mode = r.u32();
  e.size = r.u64();
  e.mtime = static_cast<std::int64_t>(r.u64());
  return true;
}

}  // namespace

Status from_legacy(xftp::Status s) noexcept {
  switch (s) {
    case xftp::Status::ok:
      return Status::ok;
    case xftp::Status::invalid:
      return Status::invalid;
    case xftp::Status::not_found:
      return Status::not_found;
    case xftp::Status::file_exists:
      return Status::file_exists;
    default:
      return Status::internal_error;
  }
}

xftp::Status to_legacy(Status s) noexcept {
  switch (s) {
    case Status::ok:
      return xftp::Status::ok;
    case Status::invalid:
      return xftp::Status::invalid;
    case Status::not_found:
      return xftp::Status::not_found;
    case Status::file_exists:
      return xftp::Status::file_exists;
    default:
      return xftp::Status::internal_error;
  }
}

std::vector<std::uint8_t> encode_fields(const RequestFields& a) {
  Writer w;
  std::visit(Overloaded{
                 [&](const ListArgs& x) {
                   w.str(x.path);
                   w.u32(x.cursor);
                   w.u16(x.max_entries);
                 },
                 [&](const PathArgs& x) { w.str(x.path); },
                 [&](const MoveArgs& x) {
                   w.str(x.from);
                   w.str(x.to);
                 },
                 [&](const UploadArgs& x) {
                   w.str(x.path);
                   w.u64(x.size);
                   w.u64(static_cast<std::uint64_t>(x.mtime));
                   w.fixed(x.checksum);
                   w.u8(x.flags);
                 },
                 [&](const DownloadArgs& x) {
                   w.str(x.path);
                   w.u8(x.flags);
                   write_ranges(w, x.present);
                 },
             },
             a);
  return w.take();
}

std::optional<RequestFields> decode_fields(Command c, Bytes body) {
  Reader r(body);
  switch (c) {
    case Command::list: {
      ListArgs x;
      if (!r.str(x.path) || !r.need(6)) return std::nullopt;
      x.cursor = r.u32();
      x.max_entries = r.u16();
      return x;
    }
    case Command::stat:
    case Command::remove:
    case Command::mkdir: {
      PathArgs x;
      if (!r.str(x.path)) return std::nullopt;
      return x;
    }
    case Command::move: {
      MoveArgs x;
      if (!r.str(x.from) || !r.str(x.to)) return std::nullopt;
      return x;
    }
    case Command::upload: {
      UploadArgs x;
      if (!r.str(x.path) || !r.need(8 + 8 + 16 + 1)) return std::nullopt;
      x.size = r.u64();
      x.mtime = static_cast<std::int64_t>(r.u64());
      x.checksum = r.fixed<16>();
      x.flags = r.u8();
      return x;
    }
    case Command::download: {
      DownloadArgs x;
      if (!r.str(x.path) || !r.need(1)) return std::nullopt;
      x.flags = r.u8();
      if (!read_ranges(r, x.present)) return std::nullopt;
      return x;
    }
  }
  return std::nullopt;  // a command this version does not know
}

std::vector<std::uint8_t> encode_fields(const ReplyFields& f) {
  Writer w;
  std::visit(
      Overloaded{
          [&](const std::monostate&) {},
          [&](const ListResult& x) {
            w.u32(x.next_cursor);
            w.u16(static_cast<std::uint16_t>(std::min<std::size_t>(x.entries.size(), 0xFFFF)));
            for (std::size_t i = 0; i < x.entries.size() && i < 0xFFFF; ++i) {
              write_entry(w, x.entries[i]);
            }
          },
          [&](const Entry& e) { write_entry(w, e); },
          [&](const UploadResult& x) {
            w.u32(x.transfer);
            w.u16(x.data_port);
            write_ranges(w, x.present);
            w.u32(static_cast<std::uint32_t>(x.range_checksums.size()));
            for (auto c : x.range_checksums) w.u64(c);
          },
          [&](const DownloadResult& x) {
            w.u32(x.transfer);
            w.u16(x.data_port);
            w.u64(x.size);
            w.u64(static_cast<std::uint64_t>(x.mtime));
            w.fixed(x.checksum);
          },
          [&](const BusyResult& x) { w.u32(x.retry_after_ms); },
      },
      f);
  return w.take();
}

std::optional<ReplyFields> decode_fields(Command c, Status s, Bytes body) {
  Reader r(body);
  if (s == Status::busy) {
    if (!r.need(4)) return std::nullopt;
    return BusyResult{r.u32()};
  }
  if (s != Status::ok) return std::monostate{};  // errors carry nothing
  switch (c) {
    case Command::list: {
      ListResult x;
      if (!r.need(6)) return std::nullopt;
      x.next_cursor = r.u32();
      const std::size_t n = r.u16();
      for (std::size_t i = 0; i < n; ++i) {
        Entry e;
        if (!read_entry(r, e)) return std::nullopt;
        x.entries.push_back(std::move(e));
      }
      return x;
    }
    case Command::stat: {
      Entry e;
      if (!read_entry(r, e)) return std::nullopt;
      return e;
    }
    case Command::upload: {
      UploadResult x;
      if (!r.need(6)) return std::nullopt;
      x.transfer = r.u32();
      x.data_port = r.u16();
      if (!read_ranges(r, x.present) || !r.need(4)) return std::nullopt;
      const std::size_t n = r.u32();
      if (n != x.present.size() || !r.need(n * 8)) return std::nullopt;  // one per range
      for (std::size_t i = 0; i < n; ++i) x.range_checksums.push_back(r.u64());
      return x;
    }
    case Command::download: {
      DownloadResult x;
      if (!r.need(4 + 2 + 8 + 8 + 16)) return std::nullopt;
      x.transfer = r.u32();
      x.data_port = r.u16();
      x.size = r.u64();
      x.mtime = static_cast<std::int64_t>(r.u64());
      x.checksum = r.fixed<16>();
      return x;
    }
    case Command::remove:
    case Command::mkdir:
    case Command::move:
      return std::monostate{};
  }
  return std::nullopt;
}

}  // namespace ferry::xftp::ext
