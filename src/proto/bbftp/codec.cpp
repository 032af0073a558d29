#include "proto/bbftp/codec.hpp"

#include <algorithm>
#include <cstring>

namespace ferry::bbftp {
namespace {

constexpr std::uint32_t kMaxStreams = 1024;  // far above any real -m; bounds TRANS_OK_V3 framing

std::uint32_t be32(Bytes in, std::size_t at) {
  return load_be32(in.subspan(at).first<4>());
}
std::int32_t sbe32(Bytes in, std::size_t at) {
  return static_cast<std::int32_t>(be32(in, at));
}

class Writer {
 public:
  explicit Writer(std::vector<std::byte>& out) : out_(out) {}
  void u32(std::uint32_t v) {
    std::byte b[4];
    store_be32(b, v);
    out_.insert(out_.end(), b, b + 4);
  }
  void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }
  void i64(std::int64_t v) {
    std::byte b[8];
    store_be64(b, static_cast<std::uint64_t>(v));
    out_.insert(out_.end(), b, b + 8);
  }
  template <class C>
  void raw(const C& c) {
    const auto* p = reinterpret_cast<const std::byte*>(std::data(c));
    out_.insert(out_.end(), p, p + std::size(c));
  }
  void header(MsgCode code, std::size_t msglen) {
    u32(static_cast<std::uint32_t>(code));
    u32(static_cast<std::uint32_t>(msglen));
  }

 private:
  std::vector<std::byte>& out_;
};

bool is_v1_store(std::uint32_t c) {
  switch (static_cast<MsgCode>(c)) {
    case MsgCode::store:
    case MsgCode::store_c:
    case MsgCode::retr:
    case MsgCode::retr_c:
    case MsgCode::retr_rfio:
    case MsgCode::retr_rfio_c:
      return true;
    default:
      return false;
  }
}

bool is_v1_header_only(std::uint32_t c) {
  const auto m = static_cast<MsgCode>(c);
  return m == MsgCode::retr_start || m == MsgCode::abr || m == MsgCode::create_zero;
}

std::string text_of(Bytes b) {
  return std::string(as_chars(b));
}

std::vector<std::uint32_t> ports_of(Bytes b) {
  std::vector<std::uint32_t> ports(b.size() / 4);
  for (std::size_t i = 0; i < ports.size(); ++i) ports[i] = be32(b, 4 * i);
  return ports;
}

Raw raw_of(std::uint32_t code, Bytes b) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(b.data());
  return Raw{code, std::vector<std::uint8_t>(p, p + b.size())};
}

Result<Message> decode_crypt(Bytes p) {
  if (p.size() < kSecSize) return Unexpected(Errc::malformed);
  CryptKey k;
  k.sec = {sbe32(p, 0), sbe32(p, 4), sbe32(p, 8)};
  if (k.sec.pubkeylen < 0 || k.sec.expolen < 0 ||
      static_cast<std::size_t>(k.sec.pubkeylen) + static_cast<std::size_t>(k.sec.expolen) >
          p.size() - kSecSize) {
    return Unexpected(Errc::malformed);
  }
  const auto* b = reinterpret_cast<const std::uint8_t*>(p.data()) + kSecSize;
  const auto* end = reinterpret_cast<const std::uint8_t*>(p.data()) + p.size();
  k.modulus_mpi.assign(b, b + k.sec.pubkeylen);
  k.exponent_mpi.assign(b + k.sec.pubkeylen, b + k.sec.pubkeylen + k.sec.expolen);
  k.appended.assign(b + k.sec.pubkeylen + k.sec.expolen, end);
  return Message(std::move(k));
}

Result<Message> decode_login(Bytes p) {
  if (p.size() != kLoginSize) return Unexpected(Errc::malformed);
  Login l;
  l.sec = {sbe32(p, 0), sbe32(p, 4), sbe32(p, 8)};
  std::memcpy(l.user.data(), p.data() + kSecSize, kRsaBytes);
  std::memcpy(l.pass.data(), p.data() + kSecSize + kRsaBytes, kRsaBytes);
  l.numuser = sbe32(p, kSecSize + 2 * kRsaBytes);
  l.numpass = sbe32(p, kSecSize + 2 * kRsaBytes + 4);
  return Message(l);
}

Result<Message> decode_list_v2(Bytes p) {
  ListReplyV2 r;
  const std::string_view s = as_chars(p);
  std::size_t i = 0;
  while (i < s.size()) {
    const auto nul = s.find('\0', i);
    if (nul == std::string_view::npos || nul + 3 >= s.size() || s[nul + 3] != '\0') {
      return Unexpected(Errc::malformed);
    }
    r.entries.push_back({std::string(s.substr(i, nul - i)), s[nul + 1], s[nul + 2]});
    i = nul + 4;
  }
  return Message(std::move(r));
}

Result<Message> decode_list_v1(Bytes p) {
  ListReplyV1 r;
  const std::string_view s = as_chars(p);
  std::size_t i = 0;
  while (i < s.size()) {
    const auto nul = s.find('\0', i);
    if (nul == std::string_view::npos) return Unexpected(Errc::malformed);
    r.paths.emplace_back(s.substr(i, nul - i));
    i = nul + 1;
  }
  return Message(std::move(r));
}

Result<Message> decode_store_v1(std::uint32_t code, Bytes p) {
  if (p.size() != kStoreV1Size) return Unexpected(Errc::malformed);
  StoreV1 s;
  s.code = static_cast<MsgCode>(code);
  std::memcpy(s.filename_field.data(), p.data(), kV1FilenameSize);
  if (std::find(s.filename_field.begin(), s.filename_field.end(), 0) == s.filename_field.end()) {
    return Unexpected(Errc::malformed);  // the real daemon would strcpy past its buffer
  }
  std::memcpy(s.pad.data(), p.data() + 500, 4);
  s.filesize = static_cast<std::int64_t>(load_be64(p.subspan(504).first<8>()));
  s.blocksize = sbe32(p, 512);
  std::memcpy(s.remote_host.data(), p.data() + 516, 16);
  s.nbport = sbe32(p, 532);
  for (std::size_t i = 0; i < kV1MaxPorts; ++i) s.ports[i] = be32(p, 536 + 4 * i);
  return Message(s);
}

Result<Message> decode_to_server(const Header& h, Bytes p, const Context& ctx) {
  const auto code = static_cast<MsgCode>(h.code);
  if (ctx.version == 1 && is_v1_store(h.code)) return decode_store_v1(h.code, p);
  switch (code) {
    case MsgCode::log:
      return decode_login(p);
    case MsgCode::crypt:
      return decode_crypt(p);
    case MsgCode::prot:
    case MsgCode::abort:
    case MsgCode::create_zero:
    case MsgCode::close_conn:
    case MsgCode::retr_start:
    case MsgCode::abr:
    case MsgCode::server_status:
    case MsgCode::ack:
      if (p.empty()) return Message(Empty{code});
      break;
    case MsgCode::prot_ans:
      if (p.size() == 4) return Message(ProtChoice{sbe32(p, 0)});
      break;
    case MsgCode::store_v2:
    case MsgCode::retr_v2:
      if (p.size() != kStoreV2Size) return Unexpected(Errc::malformed);
      return Message(Transfer{code, decode_params(p.first<kStoreV2Size>())});
    case MsgCode::filename:
    case MsgCode::ok:
    case MsgCode::bad:
    case MsgCode::bad_no_retry:
      return Message(Text{code, text_of(p)});
    case MsgCode::mkdir:
    case MsgCode::chdir:
    case MsgCode::list:
      if (ctx.version == 1) return Message(Text{code, text_of(p)});
      break;
    case MsgCode::mkdir_v2:
    case MsgCode::chdir_v2:
    case MsgCode::list_v2:
    case MsgCode::rm:
    case MsgCode::stat:
    case MsgCode::df:
      if (p.size() < 4) return Unexpected(Errc::malformed);
      return Message(DirCommand{code, be32(p, 0), text_of(p.subspan(4))});
    case MsgCode::chumask:
    case MsgCode::chcos:
      if (p.size() != 4) return Unexpected(Errc::malformed);
      return Message(IntCommand{code, sbe32(p, 0)});
    case MsgCode::trans_start_v2:
    case MsgCode::trans_simul:
      if (p.size() % 4 != 0) return Unexpected(Errc::malformed);
      return Message(PortList{code, ports_of(p)});
    case MsgCode::trans_start_v3:
    case MsgCode::trans_simul_v3:
      return Message(TransStartV3{code, h.msglen});
    default:
      break;
  }
  return Message(raw_of(h.code, p));
}

Result<Message> decode_to_client(const Header& h, Bytes p) {
  const auto code = static_cast<MsgCode>(h.code);
  switch (code) {
    case MsgCode::ok:
    case MsgCode::bad:
    case MsgCode::bad_no_retry:
    case MsgCode::info:
      return Message(Text{code, text_of(p)});
    case MsgCode::crypt:
      return decode_crypt(p);
    case MsgCode::prot_ans:
      if (p.size() != 8) return Unexpected(Errc::malformed);
      return Message(ProtRange{sbe32(p, 0), sbe32(p, 4)});
    case MsgCode::trans_ok_v2:
      if (p.size() != kStoreV2Size) return Unexpected(Errc::malformed);
      return Message(Transfer{code, decode_params(p.first<kStoreV2Size>())});
    case MsgCode::trans_ok_v3: {
      if (p.size() < kStoreV2Size) return Unexpected(Errc::malformed);
      TransOkV3 t{decode_params(p.first<kStoreV2Size>()), ports_of(p.subspan(kStoreV2Size))};
      const std::size_t expected =
          t.params.filesize == 0 ? 0 : static_cast<std::size_t>(t.params.nbstream);
      if (t.ports.size() != expected) {
        return Unexpected(Errc::malformed);
      }
      return Message(std::move(t));
    }
    case MsgCode::list_repl_v2:
      return decode_list_v2(p);
    case MsgCode::list_repl:
      return decode_list_v1(p);
    case MsgCode::retr_ok:
      if (p.size() != 8) return Unexpected(Errc::malformed);
      return Message(RetrOk{static_cast<std::int64_t>(load_be64(p.first<8>()))});
    case MsgCode::logged_stdin:
      if (p.size() != 4) return Unexpected(Errc::malformed);
      return Message(IntCommand{code, sbe32(p, 0)});
    case MsgCode::ack:
    case MsgCode::ipaddr_ok:
      if (p.empty()) return Message(Empty{code});
      break;
    default:
      break;
  }
  return Message(raw_of(h.code, p));
}

}  // namespace

const char* to_string(Errc e) noexcept {
  switch (e) {
    case Errc::need_more:
      return "incomplete message";
    case Errc::too_long:
      return "message too long";
    case Errc::malformed:
      return "malformed message";
  }
  return "?";
}

Header decode_header(std::span<const std::byte, kHeaderSize> in) noexcept {
  return {load_be32(in.first<4>()), load_be32(in.last<4>())};
}

void encode_header(const Header& h, std::span<std::byte, kHeaderSize> out) noexcept {
  store_be32(out.first<4>(), h.code);
  store_be32(out.last<4>(), h.msglen);
}

Result<Frame> frame(Bytes in, const Context& ctx) {
  if (in.size() < kHeaderSize) return Unexpected(Errc::need_more);
  Frame f{decode_header(in.first<kHeaderSize>()), 0};
  const auto code = static_cast<MsgCode>(f.header.code);
  if (ctx.direction == Direction::to_server) {
    if (code == MsgCode::trans_start_v3 || code == MsgCode::trans_simul_v3) return f;
    if (ctx.version == 1 && is_v1_store(f.header.code)) {
      f.payload_size = kStoreV1Size;
      if (in.size() < f.size()) return Unexpected(Errc::need_more);
      return f;
    }
    if (ctx.version == 1 && is_v1_header_only(f.header.code)) return f;
  } else if (code == MsgCode::trans_ok_v3) {
    if (f.header.msglen != kStoreV2Size) return Unexpected(Errc::malformed);
    if (in.size() < kHeaderSize + kStoreV2Size) return Unexpected(Errc::need_more);
    // The port list follows only when there is data to move (filesize > 0).
    const auto filesize = load_be64(in.subspan(kHeaderSize).first<8>());
    const std::uint32_t n = be32(in, kHeaderSize + 44);
    if (n == 0 || n > kMaxStreams) return Unexpected(Errc::malformed);
    f.payload_size = kStoreV2Size + (filesize == 0 ? 0 : 4 * std::size_t{n});
    if (in.size() < f.size()) return Unexpected(Errc::need_more);
    return f;
  }
  if (f.header.msglen > ctx.max_payload) return Unexpected(Errc::too_long);
  f.payload_size = f.header.msglen;
  if (in.size() < f.size()) return Unexpected(Errc::need_more);
  return f;
}

Result<Message> decode(const Header& h, Bytes payload, const Context& ctx) {
  return ctx.direction == Direction::to_server ? decode_to_server(h, payload, ctx)
                                               : decode_to_client(h, payload);
}

Result<Decoded> decode_next(Bytes in, const Context& ctx) {
  auto f = frame(in, ctx);
  if (!f) return Unexpected(f.error());
  auto m = decode(f->header, in.subspan(kHeaderSize, f->payload_size), ctx);
  if (!m) return Unexpected(m.error());
  return Decoded{std::move(*m), f->size()};
}

void encode_params(const TransferParams& p, std::span<std::byte, kStoreV2Size> out) noexcept {
  store_be64(out.subspan<0, 8>(), static_cast<std::uint64_t>(p.filesize));
  store_be32(out.subspan<8, 4>(), p.transferoption);
  store_be32(out.subspan<12, 4>(), p.filemode);
  std::memcpy(out.data() + 16, p.lastaccess.data(), 8);
  std::memcpy(out.data() + 24, p.lastmodif.data(), 8);
  store_be32(out.subspan<32, 4>(), static_cast<std::uint32_t>(p.sendwinsize));
  store_be32(out.subspan<36, 4>(), static_cast<std::uint32_t>(p.recvwinsize));
  store_be32(out.subspan<40, 4>(), static_cast<std::uint32_t>(p.buffersize));
  store_be32(out.subspan<44, 4>(), static_cast<std::uint32_t>(p.nbstream));
}

TransferParams decode_params(std::span<const std::byte, kStoreV2Size> in) noexcept {
  TransferParams p;
  p.filesize = static_cast<std::int64_t>(load_be64(in.subspan<0, 8>()));
  p.transferoption = load_be32(in.subspan<8, 4>());
  p.filemode = load_be32(in.subspan<12, 4>());
  std::memcpy(p.lastaccess.data(), in.data() + 16, 8);
  std::memcpy(p.lastmodif.data(), in.data() + 24, 8);
  p.sendwinsize = static_cast<std::int32_t>(load_be32(in.subspan<32, 4>()));
  p.recvwinsize = static_cast<std::int32_t>(load_be32(in.subspan<36, 4>()));
  p.buffersize = static_cast<std::int32_t>(load_be32(in.subspan<40, 4>()));
  p.nbstream = static_cast<std::int32_t>(load_be32(in.subspan<44, 4>()));
  return p;
}

std::array<char, 8> encode_time(std::int64_t t) noexcept {
  static constexpr char kHex[] = "0123456789abcdef";
  auto v = static_cast<std::uint32_t>(t);  // the real peers print a 32-bit time_t
  std::array<char, 8> out{};
  for (int i = 7; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = kHex[v & 0xf];
  return out;
}

std::int64_t decode_time(const std::array<char, 8>& field) noexcept {
  std::int64_t v = 0;
  for (char c : field) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return -1;
    }
    v = v * 16 + d;
  }
  return v;
}

BlockHeader decode_block_header(std::span<const std::byte, 8> in) noexcept {
  return {load_be32(in.first<4>()), load_be32(in.last<4>())};
}

void encode_block_header(const BlockHeader& h, std::span<std::byte, 8> out) noexcept {
  store_be32(out.first<4>(), h.code);
  store_be32(out.last<4>(), h.datalen);
}

namespace {

// One call operator per message type, and no catch-all: std::visit on a Message type that has
// none here does not compile, so a message added to the variant cannot be forgotten.
struct Encoder {
  Writer& w;
  void operator()(const Text& m) {
    w.header(m.code, m.text.size());
    w.raw(m.text);
  }
  void operator()(const Empty& m) { w.header(m.code, 0); }
  void operator()(const CryptKey& m) {
    w.header(MsgCode::crypt,
             kSecSize + m.modulus_mpi.size() + m.exponent_mpi.size() + m.appended.size());
    w.i32(m.sec.crtype);
    w.i32(m.sec.pubkeylen);
    w.i32(m.sec.expolen);
    w.raw(m.modulus_mpi);
    w.raw(m.exponent_mpi);
    w.raw(m.appended);
  }
  void operator()(const Login& m) {
    w.header(MsgCode::log, kLoginSize);
    w.i32(m.sec.crtype);
    w.i32(m.sec.pubkeylen);
    w.i32(m.sec.expolen);
    w.raw(m.user);
    w.raw(m.pass);
    w.i32(m.numuser);
    w.i32(m.numpass);
  }
  void operator()(const ProtRange& m) {
    w.header(MsgCode::prot_ans, 8);
    w.i32(m.min);
    w.i32(m.max);
  }
  void operator()(const ProtChoice& m) {
    w.header(MsgCode::prot_ans, 4);
    w.i32(m.version);
  }
  void params(MsgCode code, const TransferParams& p) {
    w.header(code, kStoreV2Size);  // TRANS_OK_V3's ports are not counted
    std::byte b[kStoreV2Size];
    encode_params(p, b);
    w.raw(b);
  }
  void operator()(const Transfer& m) { params(m.code, m.params); }
  void operator()(const TransOkV3& m) {
    params(MsgCode::trans_ok_v3, m.params);
    for (auto port : m.ports) w.u32(port);
  }
  void operator()(const PortList& m) {
    w.header(m.code, 4 * m.ports.size());
    for (auto port : m.ports) w.u32(port);
  }
  void operator()(const TransStartV3& m) { w.header(m.code, m.declared_length); }
  void operator()(const DirCommand& m) {
    w.header(m.code, 4 + m.path.size());
    w.u32(m.transferoption);
    w.raw(m.path);
  }
  void operator()(const IntCommand& m) {
    w.header(m.code, 4);
    w.i32(m.value);
  }
  void operator()(const ListReplyV2& m) {
    std::size_t len = 0;
    for (const auto& e : m.entries) len += e.path.size() + 4;
    w.header(MsgCode::list_repl_v2, len);
    for (const auto& e : m.entries) {
      w.raw(e.path);
      const char tail[4] = {'\0', e.link, e.kind, '\0'};
      w.raw(tail);
    }
  }
  void operator()(const ListReplyV1& m) {
    std::size_t len = 0;
    for (const auto& p : m.paths) len += p.size() + 1;
    w.header(MsgCode::list_repl, len);
    for (const auto& p : m.paths) {
      w.raw(p);
      w.raw(std::string_view("\0", 1));
    }
  }
  void operator()(const StoreV1& m) {
    w.header(m.code, kStoreV1Size);
    w.raw(m.filename_field);
    w.raw(m.pad);
    w.i64(m.filesize);
    w.i32(m.blocksize);
    w.raw(m.remote_host);
    w.i32(m.nbport);
    for (auto port : m.ports) w.u32(port);
  }
  void operator()(const RetrOk& m) {
    w.header(MsgCode::retr_ok, 8);
    w.i64(m.filesize);
  }
  void operator()(const Raw& m) {
    w.u32(m.code);
    w.u32(static_cast<std::uint32_t>(m.payload.size()));
    w.raw(m.payload);
  }
};

}  // namespace

void encode_to(const Message& m, std::vector<std::byte>& out) {
  Writer w(out);
  std::visit(Encoder{w}, m);
}

std::vector<std::byte> encode(const Message& m) {
  std::vector<std::byte> out;
  encode_to(m, out);
  return out;
}

}  // namespace ferry::bbftp
