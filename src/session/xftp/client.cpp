#include "session/xftp/client.hpp"

#include <algorithm>
#include <random>
#include <thread>

#include "crypto/xftp_keys.hpp"
#include "io/udp.hpp"
#include "session/xftp/extended_transfer.hpp"
#include "session/xftp/transfer.hpp"
#include "storage/partial.hpp"

namespace ferry::session {
namespace {

using namespace xftp;
using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxEarly = 64;

XftpClientError failure(XftpClientError::Kind kind, std::string message, int sys_errno = 0) {
  XftpClientError e;
  e.kind = kind;
  e.sys_errno = sys_errno;
  e.message = std::move(message);
  return e;
}

XftpClientError refusal(Status status) {
  XftpClientError e = failure(XftpClientError::Kind::refused, describe(status));
  e.status = status;
  return e;
}

XftpClientError from_transfer(const TransferError& t) {
  switch (t.kind) {
    case TransferError::Kind::local_file:
      return failure(XftpClientError::Kind::local_file, t.message);
    case TransferError::Kind::stopped:
      return failure(XftpClientError::Kind::interrupted, "interrupted");
    case TransferError::Kind::silent_peer:
      return failure(XftpClientError::Kind::no_reply, "transfer interrupted: " + t.message);
    default:
      return failure(XftpClientError::Kind::network, "transfer interrupted: " + t.message);
  }
}

// A socket of the candidate's family on any port, told to report ICMP errors (nothing listens).
io::Result<UniqueFd> socket_towards(const io::SocketAddress& candidate) {
  auto any = io::resolve(candidate.family() == AF_INET6 ? "::" : "0.0.0.0", 0, true);
  auto fd = any ? io::bind_udp(any->front()) : io::Result<UniqueFd>(Unexpected(any.error()));
  if (fd) io::report_icmp_errors(fd->get());
  return fd;
}

std::string seconds(io::Timeout t) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(t).count()) + " s";
}

}  // namespace

std::string describe(Status status) {
  switch (status) {
    case Status::not_found:
      return "no such file or directory on the server (NOT_FOUND)";
    case Status::file_exists:
      return "already exists on the server (FILE_EXISTS)";
    case Status::invalid:
      return "refused by the server (INVALID: a bad path, or a directory where a file is "
             "expected, or the reverse)";
    case Status::internal_error:
      return "the server could not do it (INTERNAL_ERROR)";
    default:
      return std::string("unexpected status ") + status_name(status);
  }
}

XftpResult<XftpClient> XftpClient::open(std::string_view host, std::uint16_t port,
                                        XftpClientOptions options) {
  auto addresses = io::resolve(host, port);
  if (!addresses)
    return Unexpected(failure(XftpClientError::Kind::network, addresses.error().what));
  XftpClient c;
  c.options_ = options;
  c.candidates_ = std::move(*addresses);
  std::random_device random;  // getrandom(2)
  for (auto& b : c.id_) b = static_cast<std::uint8_t>(random());
  if (options.legacy && options.key) {
    return Unexpected(failure(XftpClientError::Kind::refused,
                              "legacy mode cannot be keyed: it would send in clear"));
  }
  if (!options.legacy) {
    if (auto n = c.negotiate(); !n) return Unexpected(n.error());
  }
  return c;
}

// ---- extended mode ----

struct XftpClient::Extended {
  ext::ConnectionId ours{}, theirs{};
  std::optional<crypto::XftpSealer> to_server, from_server;
  std::atomic<std::uint64_t> packets{0};
  std::uint16_t max_datagram = static_cast<std::uint16_t>(ext::kMinDatagram);
  std::uint32_t next_request = 1;
  DropCounts drops;
  ExtendedFraming framing() {
    return {theirs, ours, &packets, to_server ? &*to_server : nullptr,
            from_server ? &*from_server : nullptr};
  }
};

std::string XftpClient::server() const {
  if (settled_) return server_.to_string();
  return candidates_.empty() ? std::string("?") : candidates_.front().to_string();
}

XftpResult<Datagram> XftpClient::exchange(Command command, std::string data, bool may_repeat,
                                          std::vector<Early>* early) {
  const auto request = encode({Status::request, static_cast<std::uint8_t>(command), id_, data});
  if (request.size() > kLegacyDatagram) {
    return Unexpected(failure(XftpClientError::Kind::local_file, "path too long for one datagram"));
  }
  if (settled_) return exchange_with(server_, request, command, may_repeat, early);
  XftpClientError last = failure(XftpClientError::Kind::network, "no address");
  for (const auto& candidate : candidates_) {
    auto fd = socket_towards(candidate);
    if (!fd) {
      last = failure(XftpClientError::Kind::network, fd.error().message(), fd.error().sys_errno);
      continue;
    }
    fd_ = std::move(*fd);
    auto r = exchange_with(candidate, request, command, may_repeat, early);
    // Only an address where provably nothing listens is left for the next one: after silence
    // the request may have arrived, and UPLOAD/DOWNLOAD must not reach a server twice.
    if (r || r.error().sys_errno != ECONNREFUSED) {
      server_ = candidate;
      settled_ = true;
      return r;
    }
    last = r.error();
  }
  return Unexpected(last);
}

XftpResult<Datagram> XftpClient::exchange_with(const io::SocketAddress& to,
                                               const std::vector<std::uint8_t>& request,
                                               Command command, bool may_repeat,
                                               std::vector<Early>* early) {
  const Bytes bytes = as_bytes(request);
  if (auto s = io::send_to(fd_.get(), bytes, to); !s) {
    return Unexpected(
        failure(XftpClientError::Kind::network, s.error().message(), s.error().sys_errno));
  }
  const auto start = Clock::now();
  const auto deadline = start + options_.timeout;
  auto retry = options_.first_retry;
  auto next_send = start + retry;
  std::vector<std::byte> buf(65536);
  for (;;) {
    const auto now = Clock::now();
    if (options_.stop != nullptr && options_.stop->load()) {
      return Unexpected(failure(XftpClientError::Kind::interrupted, "interrupted"));
    }
    if (now >= deadline) {
      return Unexpected(
          failure(XftpClientError::Kind::no_reply,
                  "no reply from " + to.to_string() + " within " + seconds(options_.timeout)));
    }
    if (may_repeat && now >= next_send) {
      (void)io::send_to(fd_.get(), bytes, to);
      retry *= 2;
      next_send = now + retry;
    }
    const auto until = may_repeat ? std::min(deadline, next_send) : deadline;
    const auto wait = std::clamp(std::chrono::duration_cast<io::Timeout>(until - now),
                                 io::Timeout(1), io::Timeout(250));
    io::SocketAddress from;
    auto n = io::receive_from(fd_.get(), buf, from, wait);
    if (!n) {
      if (n.error().sys_errno == ETIMEDOUT) continue;
      if (n.error().sys_errno == ECONNREFUSED) {
        return Unexpected(failure(XftpClientError::Kind::network,
                                  "nothing answers at " + to.to_string() + " (port unreachable)",
                                  ECONNREFUSED));
      }
      return Unexpected(
          failure(XftpClientError::Kind::network, n.error().message(), n.error().sys_errno));
    }
    if (io::same_endpoint(from, to)) {
      auto d = decode({buf.data(), *n});
      if (d && d->status != Status::request && d->status != Status::ack &&
          d->command == static_cast<std::uint8_t>(command) && d->id == id_) {
        return *d;
      }
      continue;  // a stray, or a late reply to an earlier request
    }
    // A download's first datagram may overtake the OK reply: keep what the server's host sends.
    if (early != nullptr && from.same_host(to) && early->size() < kMaxEarly) {
      early->push_back({from.port(), std::string(reinterpret_cast<const char*>(buf.data()), *n)});
    }
  }
}

XftpResult<io::SocketAddress> XftpClient::data_peer(const Datagram& reply) const {
  auto port = decode_port(reply.data);
  if (!port || *port == 0) {
    return Unexpected(failure(XftpClientError::Kind::protocol, "the OK reply carries no port"));
  }
  io::SocketAddress peer = server_;
  peer.set_port(*port);
  return peer;
}

XftpResult<void> XftpClient::simple(Command command, std::string data) {
  auto reply = exchange(command, std::move(data), true);
  if (!reply) return Unexpected(reply.error());
  if (reply->status != Status::ok) return Unexpected(refusal(reply->status));
  return {};
}

XftpResult<Listing> XftpClient::list(std::string_view path) {
  if (ext_) return ext_list(path);
  auto reply = exchange(Command::list, std::string(path), true);
  if (!reply) return Unexpected(reply.error());
  if (reply->status != Status::ok) return Unexpected(refusal(reply->status));
  auto listing = parse_list_json(reply->data);
  if (!listing) {
    return Unexpected(
        failure(XftpClientError::Kind::protocol, "unreadable listing: " + listing.error()));
  }
  return *listing;
}

XftpResult<void> XftpClient::remove(std::string_view path) {
  if (ext_) return ext_simple(ext::Command::remove, ext::PathArgs{std::string(path)});
  return simple(Command::remove, std::string(path));
}

XftpResult<void> XftpClient::mkdir(std::string_view path) {
  if (ext_) return ext_simple(ext::Command::mkdir, ext::PathArgs{std::string(path)});
  return simple(Command::mkdir, std::string(path));
}

XftpResult<void> XftpClient::move(std::string_view from, std::string_view to) {
  if (ext_)
    return ext_simple(ext::Command::move, ext::MoveArgs{std::string(from), std::string(to)});
  return simple(Command::move, encode_move(from, to));
}

XftpResult<std::uint64_t> XftpClient::upload(const storage::File& source, std::string_view remote,
                                             const TransferProgress& progress) {
  if (ext_) return ext_upload(source, remote, progress);
  auto reply = exchange(Command::upload, std::string(remote), false);
  if (!reply) return Unexpected(reply.error());
  if (reply->status != Status::ok) return Unexpected(refusal(reply->status));
  auto peer = data_peer(*reply);
  if (!peer) return Unexpected(peer.error());
  const StopAndWaitOptions o{.idle = options_.timeout,
                             .stop = options_.stop,
                             .progress = progress,
                             .busy_poll = options_.busy_poll};
  // The end is a zero-length datagram nobody acknowledges: send it three times.
  auto sent = send_stop_and_wait(fd_.get(), *peer, source, id_, 3, o);
  if (!sent) return Unexpected(from_transfer(sent.error()));
  return *sent;
}

XftpResult<std::uint64_t> XftpClient::download(std::string_view remote, storage::AtomicWriter& into,
                                               const TransferProgress& progress,
                                               const DownloadStarted& started) {
  if (ext_) return ext_download(remote, into, progress, started);
  std::vector<Early> early;
  auto reply = exchange(Command::download, std::string(remote), false, &early);
  if (!reply) return Unexpected(reply.error());
  if (reply->status != Status::ok) return Unexpected(refusal(reply->status));
  auto peer = data_peer(*reply);
  if (!peer) return Unexpected(peer.error());
  std::deque<std::string> before;
  for (auto& e : early) {
    if (e.port == peer->port()) before.push_back(std::move(e.bytes));
  }
  const StopAndWaitOptions o{.idle = options_.timeout,
                             .stop = options_.stop,
                             .progress = progress,
                             .busy_poll = options_.busy_poll};
  auto got = receive_stop_and_wait(fd_.get(), *peer, into, encode(download_ack(id_)),
                                   std::move(before), o);
  if (!got) return Unexpected(from_transfer(got.error()));
  return *got;
}

XftpResult<void> XftpClient::negotiate() {
  auto e = std::make_shared<Extended>();
  crypto::random_bytes(e->ours);
  ext::Hello hello;
  hello.max_datagram = static_cast<std::uint16_t>(ext::kMinDatagram);
  hello.connection = e->ours;
  crypto::random_bytes(hello.nonce);
  if (options_.key) {
    hello.features |= ext::feature::kKeyed;
    hello.mac = ext::Tag{};
  }
  auto bytes = ext::encode({{ext::Type::hello, {}, e->packets++}, hello});
  if (options_.key) crypto::xftp_sign_hello(bytes, *options_.key);
  std::vector<std::byte> buf(65536);
  XftpClientError last = failure(XftpClientError::Kind::network, "no address");
  for (const auto& candidate : candidates_) {
    auto fd = socket_towards(candidate);
    if (!fd) {
      last = failure(XftpClientError::Kind::network, fd.error().message(), fd.error().sys_errno);
      continue;
    }
    bool refused = false;
    for (int t = 0; t < options_.hello_tries && !refused; ++t) {
      if (options_.stop != nullptr && options_.stop->load()) {
        return Unexpected(failure(XftpClientError::Kind::interrupted, "interrupted"));
      }
      (void)io::send_to(fd->get(), as_bytes(bytes), candidate);
      const auto until = Clock::now() + options_.hello_wait;
      while (Clock::now() < until) {
        io::SocketAddress from;
        const auto left = std::chrono::duration_cast<io::Timeout>(until - Clock::now());
        auto n = io::receive_from(fd->get(), buf, from, std::max(left, io::Timeout(1)));
        if (!n) {
          if (n.error().sys_errno == ECONNREFUSED) {
            refused = true;
            last = failure(XftpClientError::Kind::network,
                           "nothing answers at " + candidate.to_string() + " (port unreachable)",
                           ECONNREFUSED);
            break;
          }
          continue;  // the wait is over, or a stray error: send again
        }
        if (!io::same_endpoint(from, candidate)) continue;
        auto d = ext::decode({buf.data(), *n});
        if (!d || d->header.connection != e->ours) continue;
        if (const auto* a = std::get_if<ext::Abort>(&d->body)) {
          // In clear, so anyone could say it: a keyed client waits for its authentic answer.
          if (options_.key) continue;
          return Unexpected(failure(XftpClientError::Kind::refused,
                                    "the server refused the connection: " + a->reason));
        }
        const auto* ok = std::get_if<ext::Hello>(&d->body);
        if (ok == nullptr || d->header.type != ext::Type::hello_ok) continue;
        const bool keyed = (ok->features & ext::feature::kKeyed) != 0;
        if (options_.key) {
          const crypto::ByteView got{reinterpret_cast<const std::uint8_t*>(buf.data()), *n};
          if (!keyed || !ok->mac || !crypto::xftp_hello_authentic(got, *options_.key)) {
            ++e->drops.unauthentic;
            continue;  // not from a server with our key
          }
          auto c2s = crypto::XftpSealer::derive(*options_.key, hello.nonce, ok->nonce,
                                                crypto::XftpSealer::Direction::client_to_server);
          auto s2c = crypto::XftpSealer::derive(*options_.key, hello.nonce, ok->nonce,
                                                crypto::XftpSealer::Direction::server_to_client);
          if (!c2s || !s2c) continue;
          e->to_server = *c2s;
          e->from_server = *s2c;
        } else if (keyed) {
          continue;  // keys we do not have
        }
        e->theirs = ok->connection;
        e->max_datagram =
            std::max<std::uint16_t>(static_cast<std::uint16_t>(ext::kMinDatagram),
                                    std::min<std::uint16_t>(ok->max_datagram, hello.max_datagram));
        fd_ = std::move(*fd);
        server_ = candidate;
        settled_ = true;
        ext_ = std::move(e);
        return {};
      }
    }
    if (!refused) {
      // Silence: an original server (it ignores extended datagrams), or none at all.
      if (options_.key) {
        return Unexpected(failure(
            XftpClientError::Kind::no_reply,
            "no extended-mode answer from " + candidate.to_string() +
                "; with a key xftp does not fall back to legacy mode, which would send in clear"));
      }
      return {};  // legacy from here on (exchange() picks the address again)
    }
  }
  if (options_.key) return Unexpected(last);
  return {};
}

XftpResult<ext::Reply> XftpClient::ext_request(ext::Command command,
                                               const ext::RequestFields& fields) {
  std::vector<std::byte> buf(65536);
  const auto body = ext::encode_fields(fields);
  const auto deadline = Clock::now() + options_.timeout;
  for (;;) {  // once per request ID: a BUSY answer is asked again under a new one
    const std::uint32_t id = ext_->next_request++;
    const auto bytes = frame(ext_->framing(), ext::Type::request,
                             ext::Request{id, static_cast<std::uint8_t>(command), body});
    if (bytes.size() > ext_->max_datagram) {
      return Unexpected(
          failure(XftpClientError::Kind::local_file, "request too long for one datagram"));
    }
    auto retry = options_.first_retry;
    auto next_send = Clock::now();
    std::optional<ext::Reply> reply;
    while (!reply) {
      const auto now = Clock::now();
      if (options_.stop != nullptr && options_.stop->load()) {
        return Unexpected(failure(XftpClientError::Kind::interrupted, "interrupted"));
      }
      if (now >= deadline) {
        return Unexpected(failure(
            XftpClientError::Kind::no_reply,
            "no reply from " + server_.to_string() + " within " + seconds(options_.timeout)));
      }
      if (now >= next_send) {
        // Safe to repeat: the server answers a repeated request ID from memory.
        (void)io::send_to(fd_.get(), as_bytes(bytes), server_);
        next_send = now + retry;
        retry *= 2;
      }
      const auto wait =
          std::clamp(std::chrono::duration_cast<io::Timeout>(std::min(deadline, next_send) - now),
                     io::Timeout(1), io::Timeout(250));
      io::SocketAddress from;
      auto n = io::receive_from(fd_.get(), buf, from, wait);
      if (!n) {
        if (n.error().sys_errno == ETIMEDOUT) continue;
        return Unexpected(
            failure(XftpClientError::Kind::network, n.error().message(), n.error().sys_errno));
      }
      if (!io::same_endpoint(from, server_)) {
        ++ext_->drops.stranger;
        continue;
      }
      auto d = unframe(ext_->framing(), {buf.data(), *n}, ext_->drops);
      if (!d) continue;
      if (const auto* r = std::get_if<ext::Reply>(&d->body); r && r->id == id) reply = *r;
    }
    if (static_cast<ext::Status>(reply->status) != ext::Status::busy) return *reply;
    auto busy = ext::decode_fields(command, ext::Status::busy, as_bytes(reply->body));
    const auto pause = std::chrono::milliseconds(
        busy ? std::clamp<std::uint32_t>(std::get<ext::BusyResult>(*busy).retry_after_ms, 10, 5000)
             : 500);
    if (Clock::now() + pause >= deadline) {
      return Unexpected(failure(XftpClientError::Kind::refused, "the server stayed busy (BUSY)"));
    }
    std::this_thread::sleep_for(pause);
  }
}

XftpResult<ext::ReplyFields> XftpClient::ext_call(ext::Command command,
                                                  const ext::RequestFields& fields,
                                                  const char* what) {
  auto reply = ext_request(command, fields);
  if (!reply) return Unexpected(reply.error());
  const auto status = static_cast<ext::Status>(reply->status);
  if (status != ext::Status::ok) return Unexpected(refusal(ext::to_legacy(status)));
  auto got = ext::decode_fields(command, status, as_bytes(reply->body));
  if (!got) {
    return Unexpected(failure(XftpClientError::Kind::protocol, std::string("unreadable ") + what));
  }
  return std::move(*got);
}

XftpResult<void> XftpClient::ext_simple(ext::Command command, const ext::RequestFields& fields) {
  auto done = ext_call(command, fields, "reply");
  if (!done) return Unexpected(done.error());
  return {};
}

XftpResult<Listing> XftpClient::ext_list(std::string_view path) {
  Listing listing;
  std::uint32_t cursor = 0;
  for (int page = 0; page < 1'000'000; ++page) {  // each page at least one entry
    auto fields =
        ext_call(ext::Command::list, ext::ListArgs{std::string(path), cursor, 0}, "listing");
    if (!fields) return Unexpected(fields.error());
    const auto& l = std::get<ext::ListResult>(*fields);
    for (const auto& e : l.entries) {
      (e.type == ext::EntryType::directory ? listing.dirs : listing.files).push_back(e.name);
    }
    if (l.next_cursor == 0 || l.next_cursor <= cursor) break;
    cursor = l.next_cursor;
  }
  return listing;
}

namespace {

// Ranges a DOWNLOAD request can offer within one datagram (its path and the tag included), and
// never more than a server offers for an upload.
std::size_t ranges_that_fit(std::size_t max_datagram, std::size_t path_bytes, bool keyed) {
  const std::size_t fixed =
      ext::kHeaderSize + 5 + 2 + path_bytes + 1 + 2 + (keyed ? ext::kTagSize : 0);
  if (fixed >= max_datagram) return 0;
  return std::min<std::size_t>(40, (max_datagram - fixed) / 16);
}

}  // namespace

void XftpClient::ext_abort(const io::SocketAddress& peer, std::uint32_t transfer,
                           std::string reason) {
  const auto bytes = frame(ext_->framing(), ext::Type::abort, ext::Abort{transfer, reason});
  (void)io::send_to(fd_.get(), as_bytes(bytes), peer);
}

XftpResult<std::uint64_t> XftpClient::ext_upload(const storage::File& source,
                                                 std::string_view remote,
                                                 const TransferProgress& progress) {
  auto size = source.size();
  if (!size) return Unexpected(failure(XftpClientError::Kind::local_file, size.error().message()));
  auto mtime = source.mtime();
  if (!mtime)
    return Unexpected(failure(XftpClientError::Kind::local_file, mtime.error().message()));
  auto sum = whole_file_checksum(source);
  if (!sum) return Unexpected(from_transfer(sum.error()));
  resumed_ = 0;
  // The server offers what it holds of an earlier attempt; each range is checked against our
  // file, and one that differs makes us start over without resume (a second attempt).
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool resume = attempt == 0 && options_.resume;
    ext::UploadArgs args{std::string(remote), *size, *mtime, *sum,
                         static_cast<std::uint8_t>(resume ? ext::kResumeFlag : 0)};
    auto fields = ext_call(ext::Command::upload, args, "UPLOAD reply");
    if (!fields) return Unexpected(fields.error());
    const auto& up = std::get<ext::UploadResult>(*fields);
    io::SocketAddress peer = server_;
    peer.set_port(up.data_port);
    RangeSet present;
    bool trusted = up.present.size() == up.range_checksums.size();
    for (std::size_t i = 0; trusted && i < up.present.size(); ++i) {
      const auto& range = up.present[i];
      if (range.first >= range.last || range.last > *size) {
        trusted = false;
        break;
      }
      auto mine = storage::range_checksum(source, range.first, range.last);
      if (!mine) {
        return Unexpected(failure(XftpClientError::Kind::local_file, mine.error().message()));
      }
      trusted = *mine == up.range_checksums[i];
      present.add(range.first, range.last);
    }
    if (!trusted) {
      ext_abort(peer, up.transfer, "what you hold differs from my file: starting over");
      continue;
    }
    resumed_ = present.count();
    SenderConfig sc;
    sc.transfer = up.transfer;
    sc.payload_bytes =
        ext_->max_datagram - ext::kDataOverhead - (ext_->to_server ? ext::kTagSize : 0);
    sc.idle_timeout = options_.timeout;
    TransferSender core(sc, *size, *sum, present);
    ExtendedTransferOptions o;
    o.stop = options_.stop;
    o.progress = progress;
    o.drops = &ext_->drops;
    auto sent = send_extended(fd_.get(), peer, source, core, ext_->framing(), o);
    if (!sent) return Unexpected(from_transfer(sent.error()));
    if (*sent == ext::EndStatus::checksum_mismatch) {
      return Unexpected(failure(XftpClientError::Kind::protocol,
                                "the server's copy does not match (checksum): not put in place"));
    }
    if (*sent != ext::EndStatus::in_place) {
      return Unexpected(
          failure(XftpClientError::Kind::refused, "the server could not put the file in place"));
    }
    return *size;
  }
  return Unexpected(failure(XftpClientError::Kind::protocol,
                            "the server's partial copy does not match this file, twice"));
}

XftpResult<std::uint64_t> XftpClient::ext_download(std::string_view remote,
                                                   storage::AtomicWriter& into,
                                                   const TransferProgress& progress,
                                                   const DownloadStarted& started) {
  resumed_ = 0;
  const bool resumable = into.resumable() && options_.resume;
  for (int attempt = 0; attempt < 2; ++attempt) {
    // What an earlier attempt left: offered only when the file is still the one it came from
    // (its size and time, asked first) and each block still matches the record.
    std::vector<Range> offer;
    storage::PartialRecord base;
    bool have_base = false;
    if (resumable && attempt == 0 && into.resume_size() > 0) {
      auto entry = ext_call(ext::Command::stat, ext::PathArgs{std::string(remote)}, "STAT reply");
      if (!entry) return Unexpected(entry.error());
      const auto& e = std::get<ext::Entry>(*entry);
      auto from = storage::resume_from(
          into, e.size, e.mtime, {},
          ranges_that_fit(ext_->max_datagram, remote.size(), ext_->to_server.has_value()));
      if (!from) {
        return Unexpected(failure(XftpClientError::Kind::local_file, from.error().message()));
      }
      for (const auto& r : from->verified.ranges) offer.push_back({r.first, r.last});
      base = std::move(from->base);
      have_base = true;
    } else if (into.resumable() && into.resume_size() > 0) {
      if (auto d = into.discard_partial(); !d) {
        return Unexpected(failure(XftpClientError::Kind::local_file, d.error().message()));
      }
    }
    ext::DownloadArgs args{std::string(remote),
                           static_cast<std::uint8_t>(offer.empty() ? 0 : ext::kResumeFlag), offer};
    auto fields = ext_call(ext::Command::download, args, "DOWNLOAD reply");
    if (!fields) return Unexpected(fields.error());
    const auto& down = std::get<ext::DownloadResult>(*fields);
    io::SocketAddress peer = server_;
    peer.set_port(down.data_port);
    if (have_base && (base.size != down.size || base.mtime != down.mtime)) {
      // Changed between the STAT and now: what we hold is of the old file.
      ext_abort(peer, down.transfer, "the file changed: starting over");
      if (auto d = into.discard_partial(); !d) {
        return Unexpected(failure(XftpClientError::Kind::local_file, d.error().message()));
      }
      continue;
    }
    if (!have_base) {
      base.size = down.size;
      base.mtime = down.mtime;
      base.block_size = storage::partial_block_size(down.size);
    }
    RangeSet present;
    for (const auto& r : offer) present.add(r.first, r.last);
    resumed_ = present.count();
    if (started) started(down.size, resumed_);
    ReceiverConfig rc;
    rc.transfer = down.transfer;
    rc.idle_timeout = options_.timeout;
    TransferReceiver core(rc, down.size, present);
    ExtendedTransferOptions o;
    o.stop = options_.stop;
    o.progress = progress;
    o.drops = &ext_->drops;
    o.linger = std::chrono::milliseconds(200);  // the server repeats END until its END_OK arrives
    if (resumable) {
      o.checkpoint = [&](const std::map<std::uint64_t, std::uint64_t>& blocks) {
        (void)storage::save_checkpoint(into, base, blocks);  // a resume later is only lost
      };
    }
    // In place once the caller commits, which it does on success: the check is done here.
    auto got = receive_extended(
        fd_.get(), peer, into.file(), core, ext_->framing(), [] { return true; }, o);
    if (!got) return Unexpected(from_transfer(got.error()));
    if (*got == ext::EndStatus::checksum_mismatch && !offer.empty() && attempt == 0) {
      // What we held passed its own record but not the whole file's checksum (another file of
      // the same size and time once went to this name): all of it again, once.
      if (auto d = into.discard_partial(); !d) {
        return Unexpected(failure(XftpClientError::Kind::local_file, d.error().message()));
      }
      continue;
    }
    if (*got != ext::EndStatus::in_place) {
      if (*got == ext::EndStatus::checksum_mismatch) into.abort(storage::Partial::drop);
      return Unexpected(failure(XftpClientError::Kind::protocol,
                                *got == ext::EndStatus::checksum_mismatch
                                    ? "what arrived does not match the server's checksum"
                                    : "the server gave up the transfer"));
    }
    return down.size;
  }
  return Unexpected(
      failure(XftpClientError::Kind::protocol, "the file keeps changing on the server"));
}

}  // namespace ferry::session
