// The bbftp data channel, one component for both sides and every protocol version: listening
// for data connections within a port range, accepting them from the peer's host only, or
// connecting to the peer's ports; the socket options every data socket gets (QBSS marking,
// buffer sizes); and the fan-out of one thread per stream that moves a TransferPlan
// (proto/bbftp/transfer_plan) over them. Who listens is the protocol's business: the daemon in
// protocol 3 (passive), the client in protocols 1 and 2.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/unique_fd.hpp"
#include "crypto/bbftp_keys.hpp"
#include "io/socket.hpp"
#include "proto/bbftp/transfer_plan.hpp"
#include "session/bbftp/streams.hpp"
#include "storage/file.hpp"

namespace ferry::session {

// The bbftp extension's proof a data connection opens with (docs/protocol/bbftp-extended.md,
// section 5): the session's data key and the transfer's number; the stream's index is the
// connection's place in the plan.
struct StreamProof {
  crypto::Digest32 key{};
  std::uint32_t transfer = 0;
};
inline constexpr io::Timeout kProofTimeout{std::chrono::seconds(10)};

// What one side knows of where its data connections go and come from.
struct DataEndpoint {
  io::SocketAddress local;       // our address: listeners bind its host
  io::SocketAddress peer;        // the other side: connections go to its host, or must come from it
  bool only_from_peer = true;    // false: accept any host (daemon's --data-peer-check off)
  std::uint16_t first_port = 0;  // listening range; 0: any free port
  std::uint16_t last_port = 0;
  int backlog = 1;  // room in each listener's queue (strangers are accepted and closed)
  // SO_SNDBUF and SO_RCVBUF of data sockets; 0: the kernel autotunes (the default: a fixed
  // buffer caps a stream at buffer / RTT).
  int send_buffer_bytes = 0;
  int recv_buffer_bytes = 0;
  io::Timeout timeout{std::chrono::seconds(300)};  // for each accept or connect
  // A connection from another host than the peer's, closed unread (for the log).
  std::function<void(const io::SocketAddress&)> on_stranger;
  // With a proof: the side that connects sends it first; the side that accepts vets what it
  // accepts side by side (each within kProofTimeout), closes what shows no proof (saying why
  // through on_unproven) and takes the first that shows it.
  std::optional<StreamProof> proof;
  std::function<void(const io::SocketAddress&, const std::string& why)> on_unproven;
};

// Which stream failed to open, and why.
struct DataOpenError {
  std::size_t stream = 0;
  io::Error error;
};
using DataSockets = ferry::Result<std::vector<UniqueFd>, DataOpenError>;

// One listener per stream, on the endpoint's host and range; the ports go to the peer.
class DataListeners {
 public:
  static ferry::Result<DataListeners, io::Error> open(const DataEndpoint& at, int streams);
  DataListeners() = default;
  const std::vector<std::uint32_t>& ports() const noexcept { return ports_; }
  // Accepts one connection on each listener, in stream order (which listener accepted says which
  // stream), from the peer's host only unless the endpoint says otherwise; closes the listeners.
  DataSockets accept_all(const DataEndpoint& at, const bbftp::TransferPlan& plan);
  void close() noexcept { sockets_.clear(); }

 private:
  std::vector<UniqueFd> sockets_;
  std::vector<std::uint32_t> ports_;
};

// Connects to each of the peer's `ports`, in stream order.
DataSockets connect_all(const DataEndpoint& to, const std::vector<std::uint32_t>& ports,
                        const bbftp::TransferPlan& plan);

// During a transfer: the bytes moved so far and the file's size, about ten times a second and
// once at the end.
using ProgressFn = std::function<void(std::uint64_t moved, std::uint64_t size)>;

enum class DataDirection { send, receive };
struct StreamTimeouts {
  io::Timeout data{std::chrono::seconds(300)};  // setdatato: each read or write
  io::Timeout ack{std::chrono::seconds(100)};   // setackto: the receiver's MSG_ACK
};
// Moves `plan` over `socks` (one segment each, on its own thread; the calling thread reports
// progress when asked). The first failure, or nothing when every stream completed.
// The extension's checksums over a transfer moved in the plan's blocks (plan_blocks): every
// block's sum, by its index in the file (the caller fills those of blocks a resume did not
// move), how many blocks came again, and what the receiver calls for each block that arrived
// whole (from the streams' threads, at once).
struct TransferSums {
  storage::Digest block_digest = storage::Digest::xxh3_64;
  std::vector<std::vector<std::uint8_t>> sums;  // in and out: sized to the file's blocks
  std::uint64_t resent = 0;                     // out
  std::uint64_t already = 0;                    // bytes of the file not moved (for progress)
  std::function<void(std::uint64_t index, Bytes data, const std::vector<std::uint8_t>& sum)>
      arrived;
  SumsAhead* ahead = nullptr;  // a sender's sums computed ahead, when it has them
};
std::optional<StreamError> move_streams(std::vector<UniqueFd>& socks, const storage::File& file,
                                        const bbftp::TransferPlan& plan, DataDirection direction,
                                        StreamTimeouts timeouts, const ProgressFn& progress = {},
                                        TransferSums* sums = nullptr);

}  // namespace ferry::session
