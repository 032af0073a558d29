#include "session/xftp/client.hpp"

#include <algorithm>
#include <random>

#include "io/udp.hpp"
#include "session/xftp/transfer.hpp"

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
  return c;
}

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
    auto any = io::resolve(candidate.family() == AF_INET6 ? "::" : "0.0.0.0", 0, true);
    auto fd = any ? io::bind_udp(any->front()) : io::Result<UniqueFd>(Unexpected(any.error()));
    if (!fd) {
      last = failure(XftpClientError::Kind::network, fd.error().message(), fd.error().sys_errno);
      continue;
    }
    io::report_icmp_errors(fd->get());
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
  return simple(Command::remove, std::string(path));
}

XftpResult<void> XftpClient::mkdir(std::string_view path) {
  return simple(Command::mkdir, std::string(path));
}

XftpResult<void> XftpClient::move(std::string_view from, std::string_view to) {
  return simple(Command::move, encode_move(from, to));
}

XftpResult<std::uint64_t> XftpClient::upload(const storage::File& source, std::string_view remote,
                                             const TransferProgress& progress) {
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
                                               const TransferProgress& progress) {
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

}  // namespace ferry::session
