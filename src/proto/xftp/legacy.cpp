#include "proto/xftp/legacy.hpp"

#include <nlohmann/json.hpp>

namespace ferry::xftp {
namespace {

// Next code point of `s` at `i`, or U+DC00 + byte for a byte that does not start valid UTF-8.
std::uint32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  auto escape = [&] {
    ++i;
    return 0xDC00u + b;
  };
  if (b < 0x80) return ++i, b;
  int extra;
  std::uint32_t cp, min;
  if ((b & 0xE0) == 0xC0) {
    extra = 1, cp = b & 0x1Fu, min = 0x80;
  } else if ((b & 0xF0) == 0xE0) {
    extra = 2, cp = b & 0x0Fu, min = 0x800;
  } else if ((b & 0xF8) == 0xF0) {
    extra = 3, cp = b & 0x07u, min = 0x10000;
  } else {
    return escape();
  }
  if (i + static_cast<std::size_t>(extra) >= s.size()) return escape();
  for (int k = 1; k <= extra; ++k) {
    const auto c = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
    if ((c & 0xC0) != 0x80) return escape();
    cp = (cp << 6) | (c & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return escape();
  i += static_cast<std::size_t>(extra) + 1;
  return cp;
}

void append_u(std::string& out, std::uint32_t unit) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(unit >> shift) & 0xF];
}

}  // namespace

Result<Datagram, Errc> decode(Bytes d) {
  if (d.size() < kHeaderSize) return Unexpected(Errc::too_short);
  if (u8(d[0]) != kMagic) return Unexpected(Errc::wrong_magic);
  Datagram g;
  g.status = static_cast<Status>(u8(d[1]));
  g.command = u8(d[2]);
  for (std::size_t i = 0; i < 8; ++i) g.id[i] = u8(d[3 + i]);
  g.data.assign(reinterpret_cast<const char*>(d.data()) + kHeaderSize, d.size() - kHeaderSize);
  return g;
}

std::vector<std::uint8_t> encode(const Datagram& g) {
  std::vector<std::uint8_t> out;
  out.reserve(kHeaderSize + g.data.size());
  out.push_back(kMagic);
  out.push_back(static_cast<std::uint8_t>(g.status));
  out.push_back(g.command);
  out.insert(out.end(), g.id.begin(), g.id.end());
  out.insert(out.end(), g.data.begin(), g.data.end());
  return out;
}

std::string encode_port(std::uint16_t port) {
  std::string s(2, '\0');
  s[0] = static_cast<char>(port & 0xFF);
  s[1] = static_cast<char>(port >> 8);
  return s;
}

std::optional<std::uint16_t> decode_port(std::string_view data) {
  if (data.size() != 2) return std::nullopt;
  return static_cast<std::uint16_t>(static_cast<unsigned char>(data[0]) |
                                    (static_cast<unsigned char>(data[1]) << 8));
}

Datagram upload_ack(const Id& id) {
  return {Status::ack, static_cast<std::uint8_t>(Command::upload), id, {}};
}
Datagram download_ack(const Id& id) {
  return {Status::ack, static_cast<std::uint8_t>(Command::nothing), id, {}};
}

std::string encode_move(std::string_view from, std::string_view to) {
  std::string s(from);
  s += '\0';
  s += to;
  return s;
}

std::optional<std::pair<std::string, std::string>> decode_move(std::string_view data) {
  const auto nul = data.find('\0');
  if (nul == std::string_view::npos || data.find('\0', nul + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return std::pair{std::string(data.substr(0, nul)), std::string(data.substr(nul + 1))};
}

std::string json_string(std::string_view name) {
  std::string out = "\"";
  for (std::size_t i = 0; i < name.size();) {
    const std::uint32_t cp = next_code_point(name, i);
    switch (cp) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (cp < 0x20 || cp >= 0x7F) {
      if (cp >= 0x10000) {
        const std::uint32_t v = cp - 0x10000;
        append_u(out, 0xD800 + (v >> 10));
        append_u(out, 0xDC00 + (v & 0x3FF));
      } else {
        append_u(out, cp);
      }
    } else {
      out += static_cast<char>(cp);
    }
  }
  out += '"';
  return out;
}

std::string list_json(const std::vector<std::string>& dirs, const std::vector<std::string>& files) {
  auto array = [](const std::vector<std::string>& names) {
    std::string s = "[";
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (i > 0) s += ", ";
      s += json_string(names[i]);
    }
    return s + "]";
  };
  return "{\"dirs\": " + array(dirs) + ", \"files\": " + array(files) + "}";
}

namespace {

// A name byte that is not UTF-8 reaches the wire as a lone low surrogate \udc80-\udcff (Python's
// surrogateescape); JSON parsers refuse those. Before parsing, each becomes NUL (which no file
// name contains) followed by \u00XX; after parsing, the pair is turned back into the byte XX.
constexpr char kByteMarker = '\0';

std::string unescape_bytes_before_parsing(std::string_view json) {
  auto hex4 = [&](std::size_t at) -> long {
    if (at + 4 > json.size()) return -1;
    unsigned v = 0;
    for (std::size_t i = at; i < at + 4; ++i) {
      const char c = json[i];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<unsigned>(c - 'A' + 10);
      else
        return -1;
    }
    return static_cast<long>(v);
  };
  std::string out;
  out.reserve(json.size());
  bool after_high = false;  // the previous escape opened a surrogate pair
  for (std::size_t i = 0; i < json.size(); ++i) {
    if (json[i] != '\\' || i + 1 >= json.size()) {
      out += json[i];
      after_high = false;
      continue;
    }
    if (json[i + 1] != 'u') {  // \n, \\, \" ...: copied whole
      out.append(json.substr(i, 2));
      ++i;
      after_high = false;
      continue;
    }
    const long v = hex4(i + 2);
    if (v >= 0xDC80 && v <= 0xDCFF && !after_high) {
      out += "\\u0000\\u00";
      out.append(json.substr(i + 4, 2));
    } else {
      out.append(json.substr(i, 6));
    }
    after_high = v >= 0xD800 && v <= 0xDBFF;
    i += 5;
  }
  return out;
}

std::string restore_bytes(std::string name) {
  if (name.find(kByteMarker) == std::string::npos) return name;
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] == kByteMarker && i + 2 < name.size() &&
        (static_cast<unsigned char>(name[i + 1]) & 0xFEU) == 0xC2U) {
      const auto a = static_cast<unsigned char>(name[i + 1]);
      const auto b = static_cast<unsigned char>(name[i + 2]);
      out += static_cast<char>(((a & 0x1FU) << 6) | (b & 0x3FU));  // U+0080..U+00FF as a byte
      i += 2;
    } else {
      out += name[i];
    }
  }
  return out;
}

}  // namespace

Result<Listing, std::string> parse_list_json(std::string_view json) {
  const auto doc = nlohmann::json::parse(unescape_bytes_before_parsing(json), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Unexpected(std::string("not JSON"));
  Listing out;
  for (auto [key, slot] : {std::pair{"dirs", &out.dirs}, std::pair{"files", &out.files}}) {
    const auto it = doc.find(key);
    if (it == doc.end() || !it->is_array()) {
      return Unexpected(std::string("no \"") + key + "\" array");
    }
    for (const auto& v : *it) {
      if (!v.is_string()) return Unexpected(std::string("a name that is not a string"));
      slot->push_back(restore_bytes(v.get<std::string>()));
    }
  }
  return out;
}

const char* command_name(std::uint8_t command) {
  switch (static_cast<Command>(command)) {
    case Command::list:
      return "LIST";
    case Command::upload:
      return "UPLOAD";
    case Command::download:
      return "DOWNLOAD";
    case Command::remove:
      return "DELETE";
    case Command::move:
      return "MOVE";
    case Command::mkdir:
      return "MKDIR";
    default:
      return "unknown command";
  }
}

const char* status_name(Status status) {
  switch (status) {
    case Status::request:
      return "REQUEST";
    case Status::ok:
      return "OK";
    case Status::ack:
      return "ACK";
    case Status::invalid:
      return "INVALID";
    case Status::not_found:
      return "NOT_FOUND";
    case Status::file_exists:
      return "FILE_EXISTS";
    case Status::internal_error:
      return "INTERNAL_ERROR";
    default:
      return "unknown status";
  }
}

}  // namespace ferry::xftp
