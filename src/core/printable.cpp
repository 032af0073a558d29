#include "core/printable.hpp"

#include <algorithm>

#include "core/utf8.hpp"

namespace ferry {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void escape_byte(std::string& out, unsigned char c) {
  switch (c) {
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default:
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
  }
}

// Length of the UTF-8 sequence a lead byte announces (0: not a lead byte).
std::size_t sequence_length(unsigned char c) noexcept {
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 0;
}

// Line and paragraph separators, and the bidirectional controls that reorder what a reader sees
// (U+2028, U+2029, U+061C, U+200E/F, U+202A..E, U+2066..9).
bool misleading(std::string_view seq) noexcept {
  if (seq == "\xd8\x9c") return true;  // U+061C ARABIC LETTER MARK
  if (seq.size() != 3 || static_cast<unsigned char>(seq[0]) != 0xE2) return false;
  const auto b1 = static_cast<unsigned char>(seq[1]), b2 = static_cast<unsigned char>(seq[2]);
  if (b1 == 0x80) return b2 == 0x8E || b2 == 0x8F || (b2 >= 0xA8 && b2 <= 0xAE);
  if (b1 == 0x81) return b2 >= 0xA6 && b2 <= 0xA9;
  return false;
}

}  // namespace

std::string printable(std::string_view text, std::size_t max_bytes) {
  const std::size_t take = std::min(text.size(), max_bytes);
  std::string out;
  out.reserve(take + 16);
  std::size_t i = 0;
  while (i < take) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      if (c == '\\' || c == '"') out += '\\';
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    const std::size_t n = c >= 0x80 ? sequence_length(c) : 0;
    const bool c1 = n == 2 && c == 0xC2 && i + 1 < take &&
                    static_cast<unsigned char>(text[i + 1]) < 0xA0;  // U+0080..U+009F
    if (n > 0 && i + n <= take && !c1 && is_valid_utf8(text.substr(i, n)) &&
        !misleading(text.substr(i, n))) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    escape_byte(out, c);
    ++i;
  }
  if (text.size() > take) {
    out += "...(+" + std::to_string(text.size() - take) + " bytes)";
  }
  return out;
}

bool RateLimit::allow(TimePoint now) noexcept {
  if (started_) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    if (elapsed > 0) tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  }
  started_ = true;
  last_ = now;
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  ++suppressed_;
  return false;
}

}  // namespace ferry
