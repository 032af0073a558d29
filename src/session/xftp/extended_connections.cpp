#include "session/xftp/extended_connections.hpp"

#include <algorithm>

#include "io/udp.hpp"

namespace ferry::session {
namespace {

using namespace xftp;
using Clock = std::chrono::steady_clock;

crypto::ByteView view(Bytes b) {
  return {reinterpret_cast<const std::uint8_t*>(b.data()), b.size()};
}

}  // namespace

ExtendedConnections::ExtendedConnections(std::optional<std::vector<std::uint8_t>> key,
                                         ExtendedLimits limits)
    : key_(std::move(key)), limits_(limits) {}

std::size_t ExtendedConnections::size() const {
  std::lock_guard lock(mu_);
  return table_.size();
}

void ExtendedConnections::expire(Clock::time_point now) {
  for (auto it = table_.begin(); it != table_.end();) {
    // A connection with a transfer running (which holds its keys) is not idle.
    const bool idle = now - it->second.last > limits_.idle && it->second.keys.use_count() == 1;
    it = idle ? table_.erase(it) : std::next(it);
  }
}

ExtendedConnections::Outcome ExtendedConnections::on_datagram(const io::SocketAddress& from,
                                                              Bytes datagram,
                                                              Clock::time_point now) {
  auto h = ext::decode_header(datagram);
  if (!h) {
    ++drops_.malformed;
    return {};
  }
  if (h->type == ext::Type::hello) {
    auto d = ext::decode(datagram);
    if (!d) {
      ++drops_.malformed;
      return {};
    }
    return hello(from, datagram, *d, now);
  }
  std::shared_ptr<ConnectionKeys> keys;
  {
    std::lock_guard lock(mu_);
    auto it = table_.find(h->connection);
    if (it == table_.end()) {
      ++drops_.elsewhere;
      return {};
    }
    keys = it->second.keys;
  }
  if (!io::same_endpoint(from, keys->peer)) {
    ++drops_.stranger;
    return {};
  }
  auto d = unframe(keys->framing(), datagram, drops_);
  if (!d) return {};
  const auto* request = std::get_if<ext::Request>(&d->body);
  if (request == nullptr) {
    ++drops_.elsewhere;  // a transfer's datagrams go to its data port
    return {};
  }
  std::lock_guard lock(mu_);
  auto it = table_.find(h->connection);
  if (it == table_.end()) return {};
  Entry& e = it->second;
  e.last = now;
  if (auto r = e.replies.find(request->id); r != e.replies.end()) return {r->second, {}};
  if (e.running.count(request->id) != 0) return {};  // the first one's reply is coming
  if (request->id + limits_.remembered_replies < e.highest_request) {
    ++drops_.elsewhere;  // older than anything remembered: a replay
    return {};
  }
  e.highest_request = std::max(e.highest_request, request->id);
  e.running[request->id] = true;
  return {{}, ExtendedRequest{keys, *request}};
}

ExtendedConnections::Outcome ExtendedConnections::hello(const io::SocketAddress& from,
                                                        Bytes datagram, const ext::Datagram& d,
                                                        Clock::time_point now) {
  const auto& hello = std::get<ext::Hello>(d.body);
  const bool keyed_hello = (hello.features & ext::feature::kKeyed) != 0;
  // Said in clear to whoever asked: this connection cannot be.
  auto refuse = [&](std::string why) {
    std::atomic<std::uint64_t> zero{0};
    ExtendedFraming f{hello.connection, {}, &zero, nullptr, nullptr};
    return Outcome{frame(f, ext::Type::abort, ext::Abort{0, std::move(why)}), {}};
  };
  if (hello.version < 1) return refuse("version 0 is not a version");
  if (key_ && !keyed_hello) return refuse("this server needs a key (--key-file)");
  if (!key_ && keyed_hello) return refuse("this server has no key: it cannot keep this private");
  if (key_) {
    if (!hello.mac || !crypto::xftp_hello_authentic(view(datagram), *key_)) {
      ++drops_.unauthentic;  // not from someone with the key: no answer at all
      return {};
    }
  }
  std::lock_guard lock(mu_);
  expire(now);
  std::size_t from_here = 0;
  for (auto& [id, e] : table_) {
    if (e.keys->peer.host() != from.host()) continue;
    ++from_here;
    // A repeated HELLO (its HELLO_OK was lost): the same answer.
    if (io::same_endpoint(e.keys->peer, from) && e.keys->theirs == hello.connection &&
        e.client_nonce == hello.nonce) {
      e.last = now;
      return {e.hello_ok, {}};
    }
  }
  if (table_.size() >= limits_.connections || from_here >= limits_.per_source) {
    return refuse("busy: too many connections");
  }
  auto keys = std::make_shared<ConnectionKeys>();
  do {
    crypto::random_bytes(keys->ours);
  } while (table_.count(keys->ours) != 0);
  keys->theirs = hello.connection;
  keys->peer = from;
  keys->max_datagram = std::min(limits_.max_datagram, hello.max_datagram);
  keys->max_datagram = std::max<std::uint16_t>(keys->max_datagram, ext::kMinDatagram);
  ext::Hello ok;
  ok.max_datagram = keys->max_datagram;
  ok.connection = keys->ours;
  crypto::random_bytes(ok.nonce);
  if (key_) {
    ok.features |= ext::feature::kKeyed;
    auto c2s = crypto::XftpSealer::derive(*key_, hello.nonce, ok.nonce,
                                          crypto::XftpSealer::Direction::client_to_server);
    auto s2c = crypto::XftpSealer::derive(*key_, hello.nonce, ok.nonce,
                                          crypto::XftpSealer::Direction::server_to_client);
    if (!c2s || !s2c) return {};
    keys->from_client = *c2s;
    keys->to_client = *s2c;
    ok.mac = ext::Tag{};
  }
  auto bytes = ext::encode({{ext::Type::hello_ok, hello.connection, keys->packets++}, ok});
  if (key_) crypto::xftp_sign_hello(bytes, *key_);
  Entry e;
  e.keys = keys;
  e.client_nonce = hello.nonce;
  e.hello_ok = bytes;
  e.last = now;
  table_.emplace(keys->ours, std::move(e));
  return {std::move(bytes), {}};
}

std::vector<std::uint8_t> ExtendedConnections::reply(const ExtendedRequest& r, ext::Status status,
                                                     const ext::ReplyFields& fields) {
  ext::Reply reply{r.request.id, static_cast<std::uint8_t>(status), ext::encode_fields(fields)};
  auto bytes = frame(r.connection->framing(), ext::Type::reply, reply);
  std::lock_guard lock(mu_);
  if (auto it = table_.find(r.connection->ours); it != table_.end()) {
    Entry& e = it->second;
    e.running.erase(r.request.id);
    e.replies[r.request.id] = bytes;
    while (e.replies.size() > limits_.remembered_replies) e.replies.erase(e.replies.begin());
  }
  return bytes;
}

}  // namespace ferry::session
