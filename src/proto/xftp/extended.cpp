#include "proto/xftp/extended.hpp"

#include <algorithm>
#include <cstring>

#include "core/overloaded.hpp"
#include "proto/xftp/wire.hpp"

namespace ferry::xftp::ext {
namespace {

using wire::Reader;
using wire::Writer;

void write_hello(Writer& w, const Hello& h) {
  w.u8(h.version);
  w.u16(h.max_datagram);
  w.u32(h.features);
  w.fixed(h.connection);
  w.fixed(h.nonce);
  if (h.mac) w.fixed(*h.mac);
}

constexpr std::size_t kHelloFixed = 1 + 2 + 4 + 8 + kNonceSize;

}  // namespace

const char* to_string(Errc e) noexcept {
  switch (e) {
    case Errc::too_short:
      return "datagram too short";
    case Errc::wrong_magic:
      return "not an extended datagram";
    case Errc::unknown_type:
      return "unknown datagram type";
    case Errc::malformed:
      return "malformed datagram";
  }
  return "?";
}

Type type_of(const Body& b, bool from_server) noexcept {
  return std::visit(Overloaded{
                        [&](const Hello&) { return from_server ? Type::hello_ok : Type::hello; },
                        [](const Request&) { return Type::request; },
                        [](const Reply&) { return Type::reply; },
                        [](const Data&) { return Type::data; },
                        [](const Ack&) { return Type::ack; },
                        [](const End&) { return Type::end; },
                        [](const EndOk&) { return Type::end_ok; },
                        [](const Abort&) { return Type::abort; },
                    },
                    b);
}

std::vector<std::uint8_t> encode_header(const Header& h) {
  Writer w;
  w.u8(kMagic);
  w.u8(static_cast<std::uint8_t>(h.type));
  w.fixed(h.connection);
  w.u64(h.packet);
  return w.take();
}

std::vector<std::uint8_t> encode_body(const Body& b) {
  Writer w;
  std::visit(Overloaded{
                 [&](const Hello& h) { write_hello(w, h); },
                 [&](const Request& r) {
                   w.u32(r.id);
                   w.u8(r.command);
                   w.raw(r.body.data(), r.body.size());
                 },
                 [&](const Reply& r) {
                   w.u32(r.id);
                   w.u8(r.status);
                   w.raw(r.body.data(), r.body.size());
                 },
                 [&](const Data& d) {
                   w.u32(d.transfer);
                   w.u64(d.seq);
                   w.u64(d.offset);
                   w.raw(d.payload.data(), d.payload.size());
                 },
                 [&](const Ack& a) {
                   w.u32(a.transfer);
                   w.u64(a.largest);
                   w.u32(a.delay_us);
                   w.u64(a.max_data);
                   w.u64(a.contiguous);
                   const std::size_t n = std::min(a.ranges.size(), kMaxAckRanges);
                   w.u8(static_cast<std::uint8_t>(n));
                   for (std::size_t i = 0; i < n; ++i) {
                     w.u64(a.ranges[i].first);
                     w.u64(a.ranges[i].last - 1);  // inclusive on the wire
                   }
                 },
                 [&](const End& e) {
                   w.u32(e.transfer);
                   w.u64(e.size);
                   w.fixed(e.checksum);
                 },
                 [&](const EndOk& e) {
                   w.u32(e.transfer);
                   w.u8(static_cast<std::uint8_t>(e.status));
                 },
                 [&](const Abort& a) {
                   w.u32(a.transfer);
                   w.raw(reinterpret_cast<const std::uint8_t*>(a.reason.data()), a.reason.size());
                 },
             },
             b);
  return w.take();
}

std::vector<std::uint8_t> encode(const Datagram& d) {
  auto out = encode_header(d.header);
  const auto body = encode_body(d.body);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Result<Header, Errc> decode_header(Bytes datagram) {
  if (datagram.empty()) return Unexpected(Errc::too_short);
  if (u8(datagram[0]) != kMagic) return Unexpected(Errc::wrong_magic);
  if (datagram.size() < kHeaderSize) return Unexpected(Errc::too_short);
  Reader r(datagram.subspan(1));
  Header h;
  const auto type = r.u8();
  if (type < static_cast<std::uint8_t>(Type::hello) ||
      type > static_cast<std::uint8_t>(Type::abort)) {
    return Unexpected(Errc::unknown_type);
  }
  h.type = static_cast<Type>(type);
  h.connection = r.fixed<8>();
  h.packet = r.u64();
  return h;
}

Result<Datagram, Errc> decode(Bytes datagram) {
  auto header = decode_header(datagram);
  if (!header) return Unexpected(header.error());
  auto body = decode_body(header->type, datagram.subspan(kHeaderSize));
  if (!body) return Unexpected(body.error());
  return Datagram{*header, std::move(*body)};
}

Result<Body, Errc> decode_body(Type type, Bytes body) {
  Datagram d;  // its body is filled below
  Reader r(body);
  switch (type) {
    case Type::hello:
    case Type::hello_ok: {
      if (!r.need(kHelloFixed)) return Unexpected(Errc::too_short);
      Hello h;
      h.version = r.u8();
      h.max_datagram = r.u16();
      h.features = r.u32();
      h.connection = r.fixed<8>();
      h.nonce = r.fixed<kNonceSize>();
      if ((h.features & feature::kKeyed) != 0) {
        // The MAC ends the datagram; fields a later version appends come before it (and are
        // covered by it), and are skipped here.
        if (!r.need(kTagSize)) return Unexpected(Errc::too_short);
        const auto rest = r.rest();
        std::copy(rest.end() - kTagSize, rest.end(), h.mac.emplace().begin());
      }
      // Later versions may append fields: they are ignored here.
      d.body = h;
      break;
    }
    case Type::request: {
      if (!r.need(5)) return Unexpected(Errc::too_short);
      Request q;
      q.id = r.u32();
      q.command = r.u8();
      q.body = r.rest();
      d.body = std::move(q);
      break;
    }
    case Type::reply: {
      if (!r.need(5)) return Unexpected(Errc::too_short);
      Reply q;
      q.id = r.u32();
      q.status = r.u8();
      q.body = r.rest();
      d.body = std::move(q);
      break;
    }
    case Type::data: {
      if (!r.need(20)) return Unexpected(Errc::too_short);
      Data x;
      x.transfer = r.u32();
      x.seq = r.u64();
      x.offset = r.u64();
      x.payload = r.rest();
      if (x.offset + x.payload.size() < x.offset) return Unexpected(Errc::malformed);
      d.body = std::move(x);
      break;
    }
    case Type::ack: {
      if (!r.need(kAckFixed)) return Unexpected(Errc::too_short);
      Ack a;
      a.transfer = r.u32();
      a.largest = r.u64();
      a.delay_us = r.u32();
      a.max_data = r.u64();
      a.contiguous = r.u64();
      const std::size_t n = r.u8();
      if (!r.need(n * kAckRangeSize)) return Unexpected(Errc::too_short);
      std::uint64_t below = a.largest + 1;  // ranges go down, apart and in order
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t first = r.u64();
        const std::uint64_t last = r.u64();
        if (first > last || last >= below || last == UINT64_MAX) return Unexpected(Errc::malformed);
        a.ranges.push_back({first, last + 1});
        below = first;
      }
      if (!a.ranges.empty() && a.ranges.front().last != a.largest + 1) {
        return Unexpected(Errc::malformed);
      }
      d.body = std::move(a);
      break;
    }
    case Type::end: {
      if (!r.need(4 + 8 + 16)) return Unexpected(Errc::too_short);
      End e;
      e.transfer = r.u32();
      e.size = r.u64();
      e.checksum = r.fixed<16>();
      d.body = e;
      break;
    }
    case Type::end_ok: {
      if (!r.need(5)) return Unexpected(Errc::too_short);
      EndOk e;
      e.transfer = r.u32();
      const auto s = r.u8();
      if (s > static_cast<std::uint8_t>(EndStatus::failed)) return Unexpected(Errc::malformed);
      e.status = static_cast<EndStatus>(s);
      d.body = e;
      break;
    }
    case Type::abort: {
      if (!r.need(4)) return Unexpected(Errc::too_short);
      Abort a;
      a.transfer = r.u32();
      const auto text = r.rest();
      a.reason.assign(text.begin(), text.end());
      d.body = std::move(a);
      break;
    }
  }
  return std::move(d.body);
}

}  // namespace ferry::xftp::ext
