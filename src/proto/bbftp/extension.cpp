#include "proto/bbftp/extension.hpp"

#include <algorithm>
#include <string>

namespace ferry::bbftp::ext {
namespace {

void put(std::vector<std::uint8_t>& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::uint64_t get(std::span<const std::uint8_t> p, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[at + static_cast<std::size_t>(i)];
  return v;
}

template <std::size_t N>
void put(std::vector<std::uint8_t>& out, const std::array<std::uint8_t, N>& a) {
  out.insert(out.end(), a.begin(), a.end());
}

template <std::size_t N>
std::array<std::uint8_t, N> take(std::span<const std::uint8_t> p, std::size_t at) {
  std::array<std::uint8_t, N> a{};
  std::copy_n(p.begin() + static_cast<std::ptrdiff_t>(at), N, a.begin());
  return a;
}

}  // namespace

std::vector<std::uint8_t> encode(const Announcement& a) {
  std::vector<std::uint8_t> out(kMagic.begin(), kMagic.end());
  out.reserve(kAnnouncementSize);
  put(out, a.version, 1);
  put(out, a.features, 4);
  put(out, a.nonce);
  put(out, a.share);
  put(out, a.key_type, 1);
  put(out, a.host_key);
  put(out, a.signature);
  return out;
}

std::optional<Announcement> decode_announcement(std::span<const std::uint8_t> p) {
  if (p.size() < kAnnouncementSize || !std::equal(kMagic.begin(), kMagic.end(), p.begin())) {
    return std::nullopt;
  }
  Announcement a;
  a.version = p[8];
  if (a.version == 0) return std::nullopt;
  a.features = static_cast<std::uint32_t>(get(p, 9, 4));
  a.nonce = take<32>(p, 13);
  a.share = take<32>(p, 45);
  a.key_type = p[77];
  a.host_key = take<32>(p, 78);
  a.signature = take<64>(p, p.size() - 64);
  return a;
}

std::vector<std::uint8_t> signed_bytes(const CryptKey& key) {
  std::vector<std::uint8_t> body;
  put(body, static_cast<std::uint32_t>(key.sec.crtype), 4);
  put(body, static_cast<std::uint32_t>(key.sec.pubkeylen), 4);
  put(body, static_cast<std::uint32_t>(key.sec.expolen), 4);
  body.insert(body.end(), key.modulus_mpi.begin(), key.modulus_mpi.end());
  body.insert(body.end(), key.exponent_mpi.begin(), key.exponent_mpi.end());
  const std::size_t keep = key.appended.size() >= 64 ? key.appended.size() - 64 : 0;
  body.insert(body.end(), key.appended.begin(),
              key.appended.begin() + static_cast<std::ptrdiff_t>(keep));
  std::vector<std::uint8_t> out(kAnnouncementContext.begin(), kAnnouncementContext.end());
  put(out, body.size(), 4);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::vector<std::uint8_t> transcript_part(const ExtLogin& l) {
  std::vector<std::uint8_t> out;
  put(out, l.version, 1);
  put(out, l.features, 4);
  put(out, l.nonce);
  put(out, l.share);
  return out;
}

std::vector<std::uint8_t> encode(const ExtLogin& l) {
  auto out = transcript_part(l);
  out.insert(out.end(), l.sealed.begin(), l.sealed.end());
  return out;
}

std::optional<ExtLogin> decode_ext_login(std::span<const std::uint8_t> p) {
  if (p.size() < kExtLoginFixed || p.size() > kExtLoginFixed + kMaxSealedCredentials) {
    return std::nullopt;
  }
  ExtLogin l;
  l.version = p[0];
  if (l.version == 0) return std::nullopt;
  l.features = static_cast<std::uint32_t>(get(p, 1, 4));
  l.nonce = take<32>(p, 5);
  l.share = take<32>(p, 37);
  l.sealed.assign(p.begin() + kExtLoginFixed, p.end());
  return l;
}

std::vector<std::uint8_t> encode(const Credentials& c) {
  std::vector<std::uint8_t> out;
  out.reserve(4 + c.user.size() + c.password.size());
  for (const std::string* s : {&c.user, &c.password}) {
    put(out, s->size(), 2);
    for (char ch : *s) out.push_back(static_cast<std::uint8_t>(ch));
  }
  return out;
}

std::optional<Credentials> decode_credentials(std::span<const std::uint8_t> p) {
  Credentials c;
  std::size_t at = 0;
  for (std::string* s : {&c.user, &c.password}) {
    if (p.size() - at < 2) return std::nullopt;
    const std::size_t n = static_cast<std::size_t>(get(p, at, 2));
    at += 2;
    if (p.size() - at < n) return std::nullopt;
    s->assign(p.begin() + static_cast<std::ptrdiff_t>(at),
              p.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
  }
  if (at != p.size() || c.user.empty()) return std::nullopt;
  return c;
}

std::vector<std::uint8_t> encode(const ExtSum& s) {
  std::vector<std::uint8_t> out;
  out.reserve(2 + s.sum.size());
  put(out, s.flags, 1);
  put(out, s.digest, 1);
  for (auto b : s.sum) out.push_back(b);
  return out;
}

std::optional<ExtSum> decode_ext_sum(std::span<const std::uint8_t> p) {
  if (p.size() < 2) return std::nullopt;
  ExtSum s;
  s.flags = p[0];
  s.digest = p[1];
  const std::size_t want = s.digest == 1 ? 16 : s.digest == 2 ? 32 : 0;
  if (want == 0 || p.size() != 2 + want || (s.flags & ~3U) != 0) return std::nullopt;
  s.sum.assign(p.begin() + 2, p.end());
  return s;
}

std::uint64_t integrity_block(std::uint64_t file_size) noexcept {
  std::uint64_t b = kIntegrityBlock;
  while (file_size / b >= (1U << 16) && b < (64U << 20)) b <<= 1;
  return b;
}

std::uint64_t ExtResume::bytes() const noexcept {
  std::uint64_t n = 0;
  for (const auto& r : ranges) n += r.last - r.first;
  return n;
}

std::vector<std::uint8_t> encode(const ExtResume& r) {
  std::vector<std::uint8_t> out;
  out.reserve(12 + 24 * r.ranges.size());
  put(out, r.size, 8);
  put(out, r.ranges.size(), 4);
  for (const auto& g : r.ranges) {
    put(out, g.first, 8);
    put(out, g.last, 8);
    put(out, g.sum, 8);
  }
  return out;
}

std::optional<ExtResume> decode_ext_resume(std::span<const std::uint8_t> p) {
  if (p.size() < 12) return std::nullopt;
  ExtResume r;
  r.size = get(p, 0, 8);
  const std::uint64_t count = get(p, 8, 4);
  if (count > kMaxResumeRanges || p.size() != 12 + 24 * count) return std::nullopt;
  const std::uint64_t block = integrity_block(r.size);
  std::uint64_t end = 0;  // of the previous range
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::size_t at = static_cast<std::size_t>(12 + 24 * i);
    ResumeRange g{get(p, at, 8), get(p, at + 8, 8), get(p, at + 16, 8)};
    if (g.first >= g.last || g.last > r.size || (i > 0 && g.first <= end) || g.first % block != 0 ||
        (g.last % block != 0 && g.last != r.size)) {
      return std::nullopt;
    }
    end = g.last;
    r.ranges.push_back(g);
  }
  return r;
}

bool answers(const ExtResume& answer, const ExtResume& offer) noexcept {
  if (answer.size != offer.size) return answer.ranges.empty();
  std::size_t j = 0;
  for (const auto& g : answer.ranges) {
    while (j < offer.ranges.size() && offer.ranges[j].first < g.first) ++j;
    if (j == offer.ranges.size() || !(offer.ranges[j] == g)) return false;
    ++j;
  }
  return true;
}

std::vector<std::uint8_t> encode(const ExtLoginOk& ok) {
  std::vector<std::uint8_t> out;
  put(out, ok.protocol_max, 1);
  put(out, ok.features, 4);
  for (char ch : ok.text) out.push_back(static_cast<std::uint8_t>(ch));
  return out;
}

std::optional<ExtLoginOk> decode_ext_login_ok(std::span<const std::uint8_t> p) {
  if (p.size() < 5) return std::nullopt;
  ExtLoginOk ok;
  ok.protocol_max = p[0];
  if (ok.protocol_max < 1) return std::nullopt;
  ok.features = static_cast<std::uint32_t>(get(p, 1, 4));
  ok.text.assign(p.begin() + 5, p.end());
  return ok;
}

}  // namespace ferry::bbftp::ext
