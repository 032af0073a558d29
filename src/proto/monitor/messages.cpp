#include "proto/monitor/messages.hpp"

#include <algorithm>
#include <span>

namespace ferry::monitor {
namespace {

enum class Type : std::uint8_t {
  check_login = 1,
  hand_over = 2,
  log_line = 3,
  sign = 4,
  verdict = 0x81,
  signed_announcement = 0x82,
};

class Writer {
 public:
  // The length goes in front once the body is complete.
  explicit Writer(Type t) : out_(kFrameHeader) {
    out_.push_back(std::byte(static_cast<std::uint8_t>(t)));
  }
  void u8(std::uint8_t v) { out_.push_back(std::byte(v)); }
  void u16(std::uint16_t v) {
    out_.push_back(std::byte(v >> 8));
    out_.push_back(std::byte(v & 0xff));
  }
  void u32(std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(std::byte((v >> shift) & 0xff));
  }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
  }
  void bytes(Bytes b) { out_.insert(out_.end(), b.begin(), b.end()); }
  template <std::size_t N>
  void fixed(const std::array<std::uint8_t, N>& a) {
    for (auto c : a) out_.push_back(std::byte(c));
  }
  std::vector<std::byte> frame() && {
    const auto body = static_cast<std::uint32_t>(out_.size() - kFrameHeader);
    store_be32(std::span<std::byte, 4>(out_.data(), 4), body);
    return std::move(out_);
  }

 private:
  std::vector<std::byte> out_;
};

// Reads a frame's body; every read checks what is left, so no field runs past the frame.
class Reader {
 public:
  explicit Reader(Bytes b) : b_(b) {}
  bool u8(std::uint8_t& v) {
    if (b_.size() < 1) return false;
    v = ferry::u8(b_[0]);
    b_ = b_.subspan(1);
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (b_.size() < 2) return false;
    v = static_cast<std::uint16_t>((ferry::u8(b_[0]) << 8) | ferry::u8(b_[1]));
    b_ = b_.subspan(2);
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (b_.size() < 4) return false;
    v = load_be32(b_.first<4>());
    b_ = b_.subspan(4);
    return true;
  }
  bool u64(std::uint64_t& v) {
    std::uint32_t hi = 0, lo = 0;
    if (!u32(hi) || !u32(lo)) return false;
    v = (std::uint64_t{hi} << 32) | lo;
    return true;
  }
  template <std::size_t N>
  bool fixed(std::array<std::uint8_t, N>& a) {
    if (b_.size() < N) return false;
    for (std::size_t i = 0; i < N; ++i) a[i] = ferry::u8(b_[i]);
    b_ = b_.subspan(N);
    return true;
  }
  bool take(std::size_t n, Bytes& out) {
    if (b_.size() < n) return false;
    out = b_.first(n);
    b_ = b_.subspan(n);
    return true;
  }
  bool done() const { return b_.empty(); }

 private:
  Bytes b_;
};

// The next frame's type and body, or why there is none.
struct Frame {
  Type type{};
  Bytes body;
  std::size_t consumed = 0;
};
ferry::Result<Frame, Errc> next_frame(Bytes in) {
  if (in.size() < kFrameHeader) return Unexpected(Errc::need_more);
  const std::uint32_t len = load_be32(in.first<4>());
  if (len > kMaxFrame) return Unexpected(Errc::too_long);
  if (len < 1) return Unexpected(Errc::malformed);
  if (in.size() - kFrameHeader < len) return Unexpected(Errc::need_more);
  Frame f;
  f.type = static_cast<Type>(ferry::u8(in[kFrameHeader]));
  f.body = in.subspan(kFrameHeader + 1, len - 1);
  f.consumed = kFrameHeader + len;
  return f;
}

}  // namespace

const char* to_string(Errc e) noexcept {
  switch (e) {
    case Errc::need_more:
      return "incomplete monitor frame";
    case Errc::too_long:
      return "monitor frame too long";
    case Errc::unknown_type:
      return "unknown monitor request";
    case Errc::malformed:
      return "malformed monitor frame";
  }
  return "?";
}

std::vector<std::byte> encode(const Request& r) {
  if (const auto* c = std::get_if<CheckLogin>(&r)) {
    if (c->user.size() > kMaxUser || c->password.size() > kMaxPassword) return {};
    Writer w(Type::check_login);
    w.u8(c->undecryptable ? 1 : 0);
    w.u16(static_cast<std::uint16_t>(c->user.size()));
    w.bytes(as_bytes(c->user));
    w.u16(static_cast<std::uint16_t>(c->password.size()));
    w.bytes(as_bytes(c->password));
    return std::move(w).frame();
  }
  if (const auto* l = std::get_if<LogLine>(&r)) {
    if (l->text.size() > kMaxLogText || l->level > 3) return {};
    Writer w(Type::log_line);
    w.u8(l->level);
    w.u16(static_cast<std::uint16_t>(l->text.size()));
    w.bytes(as_bytes(l->text));
    return std::move(w).frame();
  }
  if (const auto* s = std::get_if<Sign>(&r)) {
    if (s->modulus_mpi.size() > kMaxMpi || s->exponent_mpi.size() > kMaxMpi) return {};
    Writer w(Type::sign);
    w.u32(s->features);
    w.fixed(s->share);
    w.u16(static_cast<std::uint16_t>(s->modulus_mpi.size()));
    w.bytes(as_bytes(s->modulus_mpi));
    w.u16(static_cast<std::uint16_t>(s->exponent_mpi.size()));
    w.bytes(as_bytes(s->exponent_mpi));
    return std::move(w).frame();
  }
  const auto& h = std::get<HandOver>(r);
  if (h.pending.size() > kMaxPending) return {};
  Writer w(Type::hand_over);
  w.u8(static_cast<std::uint8_t>((h.clear_text ? 1 : 0) | (h.channel ? 2 : 0)));
  w.u32(static_cast<std::uint32_t>(h.pending.size()));
  w.bytes(Bytes(h.pending.data(), h.pending.size()));
  if (const auto& c = h.channel) {
    w.u32(c->features);
    w.fixed(c->c2s_key);
    w.fixed(c->c2s_iv);
    w.u64(c->c2s_next);
    w.fixed(c->s2c_key);
    w.fixed(c->s2c_iv);
    w.u64(c->s2c_next);
    w.fixed(c->data_key);
  }
  return std::move(w).frame();
}

std::vector<std::byte> encode(const Signed& s) {
  Writer w(Type::signed_announcement);
  w.fixed(s.nonce);
  w.fixed(s.host_key);
  w.fixed(s.signature);
  return std::move(w).frame();
}

std::vector<std::byte> encode(const Verdict& v) {
  Writer w(Type::verdict);
  w.u8(static_cast<std::uint8_t>(v.outcome));
  return std::move(w).frame();
}

ferry::Result<Decoded<Request>, Errc> decode_request(Bytes in) {
  auto f = next_frame(in);
  if (!f) return Unexpected(f.error());
  Reader r(f->body);
  std::uint8_t flags = 0;
  if (f->type == Type::check_login) {
    std::uint16_t n = 0;
    Bytes user, pass;
    if (!r.u8(flags) || (flags & ~1u) != 0) return Unexpected(Errc::malformed);
    if (!r.u16(n) || n > kMaxUser || !r.take(n, user)) return Unexpected(Errc::malformed);
    if (!r.u16(n) || n > kMaxPassword || !r.take(n, pass)) return Unexpected(Errc::malformed);
    if (!r.done()) return Unexpected(Errc::malformed);
    CheckLogin c{std::string(as_chars(user)), std::string(as_chars(pass)), (flags & 1) != 0};
    return Decoded<Request>{std::move(c), f->consumed};
  }
  if (f->type == Type::hand_over) {
    std::uint32_t n = 0;
    Bytes pending;
    if (!r.u8(flags) || (flags & ~3u) != 0) return Unexpected(Errc::malformed);
    if (!r.u32(n) || n > kMaxPending || !r.take(n, pending)) return Unexpected(Errc::malformed);
    HandOver h{(flags & 1) != 0, std::vector<std::byte>(pending.begin(), pending.end()), {}};
    if ((flags & 2) != 0) {
      Channel c;
      if (!r.u32(c.features) || !r.fixed(c.c2s_key) || !r.fixed(c.c2s_iv) || !r.u64(c.c2s_next) ||
          !r.fixed(c.s2c_key) || !r.fixed(c.s2c_iv) || !r.u64(c.s2c_next) || !r.fixed(c.data_key)) {
        return Unexpected(Errc::malformed);
      }
      h.channel = c;
    }
    if (!r.done()) return Unexpected(Errc::malformed);
    return Decoded<Request>{std::move(h), f->consumed};
  }
  if (f->type == Type::sign) {
    Sign s;
    std::uint16_t n = 0;
    Bytes mod, exp;
    if (!r.u32(s.features) || !r.fixed(s.share)) return Unexpected(Errc::malformed);
    if (!r.u16(n) || n > kMaxMpi || !r.take(n, mod)) return Unexpected(Errc::malformed);
    if (!r.u16(n) || n > kMaxMpi || !r.take(n, exp) || !r.done()) {
      return Unexpected(Errc::malformed);
    }
    for (auto b : mod) s.modulus_mpi.push_back(ferry::u8(b));
    for (auto b : exp) s.exponent_mpi.push_back(ferry::u8(b));
    return Decoded<Request>{std::move(s), f->consumed};
  }
  if (f->type == Type::log_line) {
    std::uint8_t level = 0;
    std::uint16_t n = 0;
    Bytes text;
    if (!r.u8(level) || level > 3) return Unexpected(Errc::malformed);
    if (!r.u16(n) || n > kMaxLogText || !r.take(n, text) || !r.done()) {
      return Unexpected(Errc::malformed);
    }
    return Decoded<Request>{LogLine{level, std::string(as_chars(text))}, f->consumed};
  }
  return Unexpected(Errc::unknown_type);
}

ferry::Result<Decoded<Verdict>, Errc> decode_verdict(Bytes in) {
  auto f = next_frame(in);
  if (!f) return Unexpected(f.error());
  if (f->type != Type::verdict) return Unexpected(Errc::unknown_type);
  Reader r(f->body);
  std::uint8_t o = 0;
  if (!r.u8(o) || !r.done() || o < 1 || o > 4) return Unexpected(Errc::malformed);
  return Decoded<Verdict>{Verdict{static_cast<Outcome>(o)}, f->consumed};
}

ferry::Result<Decoded<Signed>, Errc> decode_signed(Bytes in) {
  auto f = next_frame(in);
  if (!f) return Unexpected(f.error());
  if (f->type != Type::signed_announcement) return Unexpected(Errc::unknown_type);
  Reader r(f->body);
  Signed s;
  if (!r.fixed(s.nonce) || !r.fixed(s.host_key) || !r.fixed(s.signature) || !r.done()) {
    return Unexpected(Errc::malformed);
  }
  return Decoded<Signed>{s, f->consumed};
}

}  // namespace ferry::monitor
