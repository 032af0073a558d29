// xftpd's extended-mode connections (docs/protocol/xftp-extended.md): the HELLO exchange, the
// table of connections by ID with their peer address and keys, and the requests' memory (a
// repeated request ID is answered with the same reply, never run twice). No sockets and no
// files: datagrams in, datagrams to send and requests to run out; safe to call from the event
// loop and the workers at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "crypto/xftp_keys.hpp"
#include "io/socket.hpp"
#include "proto/xftp/extended.hpp"
#include "proto/xftp/extended_commands.hpp"
#include "session/xftp/extended_transfer.hpp"

namespace ferry::session {

struct ExtendedLimits {
  std::size_t connections = 1024;       // in all
  std::size_t per_source = 32;          // from one host
  std::chrono::seconds idle{300};       // a connection unheard of this long is forgotten
  std::size_t remembered_replies = 64;  // per connection
  std::uint16_t max_datagram = static_cast<std::uint16_t>(xftp::ext::kMinDatagram);
};

// What a transfer needs of its connection, kept alive while it runs.
struct ConnectionKeys {
  xftp::ext::ConnectionId ours{}, theirs{};
  std::optional<crypto::XftpSealer> to_client, from_client;
  std::atomic<std::uint64_t> packets{0};
  io::SocketAddress peer;
  std::uint16_t max_datagram = static_cast<std::uint16_t>(xftp::ext::kMinDatagram);
  ExtendedFraming framing() {
    return {theirs, ours, &packets, to_client ? &*to_client : nullptr,
            from_client ? &*from_client : nullptr};
  }
};

struct ExtendedRequest {
  std::shared_ptr<ConnectionKeys> connection;
  xftp::ext::Request request;
};

class ExtendedConnections {
 public:
  ExtendedConnections(std::optional<std::vector<std::uint8_t>> key, ExtendedLimits limits);

  struct Outcome {
    std::vector<std::uint8_t> reply;      // to send back to the datagram's source, if any
    std::optional<ExtendedRequest> work;  // a new request, for a worker
  };
  Outcome on_datagram(const io::SocketAddress& from, Bytes datagram,
                      std::chrono::steady_clock::time_point now);
  // The worker's answer to `r`: framed, and remembered for a repeat of its ID.
  std::vector<std::uint8_t> reply(const ExtendedRequest& r, xftp::ext::Status status,
                                  const xftp::ext::ReplyFields& fields);
  bool keyed() const noexcept { return key_.has_value(); }
  DropCounts& drops() noexcept { return drops_; }
  std::size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<ConnectionKeys> keys;
    xftp::ext::Nonce client_nonce{};
    std::vector<std::uint8_t> hello_ok;  // repeated for a repeated HELLO
    std::chrono::steady_clock::time_point last;
    std::map<std::uint32_t, std::vector<std::uint8_t>> replies;  // by request ID
    std::map<std::uint32_t, bool> running;                       // being worked on
    // Request IDs only grow: one far below the highest seen is a replay (its reply may be
    // forgotten already), never run again.
    std::uint32_t highest_request = 0;
  };
  Outcome hello(const io::SocketAddress& from, Bytes datagram, const xftp::ext::Datagram& d,
                std::chrono::steady_clock::time_point now);
  void expire(std::chrono::steady_clock::time_point now);

  std::optional<std::vector<std::uint8_t>> key_;
  ExtendedLimits limits_;
  mutable std::mutex mu_;
  std::map<xftp::ext::ConnectionId, Entry> table_;
  DropCounts drops_;
};

}  // namespace ferry::session
