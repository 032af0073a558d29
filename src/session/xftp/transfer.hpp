// The data phase of a legacy XFTP transfer (spec sections 1.2-1.3), shared by xftpd and xftp:
// raw datagrams of at most 4096 bytes, each acknowledged before the next is sent, a zero-length
// datagram at the end. Without sequence numbers nothing can be retransmitted, so the round trip
// is the speed limit: these loops spend one recvfrom and one sendto per datagram and read or
// write the file in large blocks while the peer is busy.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "io/socket.hpp"
#include "proto/xftp/legacy.hpp"
#include "storage/atomic_writer.hpp"
#include "storage/file.hpp"

namespace ferry::session {

struct TransferError {
  enum class Kind {
    silent_peer,  // nothing (acceptable) arrived for the idle time
    network,      // a socket error; ECONNREFUSED: the peer's transfer port is gone
    local_file,   // reading or writing the file failed
    stopped,      // the process is shutting down
  };
  Kind kind = Kind::network;
  std::string message;
};

struct StopAndWaitOptions {
  io::Timeout idle{std::chrono::seconds(30)};
  const std::atomic<bool>* stop = nullptr;            // checked while waiting
  std::function<void(std::uint64_t bytes)> progress;  // about once per MiB, and at the end
  // Poll this long for the peer's next datagram before sleeping in the kernel. A round trip of
  // stop-and-wait is mostly the two wake-ups of sleeping threads; polling removes them (2.5x on
  // loopback) for at most this much CPU per datagram. Zero: always sleep.
  std::chrono::microseconds busy_poll{0};
};

// Sends `file` to `peer` from `fd`: each datagram after the previous one's ACK (a datagram from
// `peer` with status ACK and `id`), then `eof_copies` zero-length datagrams. Returns the bytes
// sent.
Result<std::uint64_t, TransferError> send_stop_and_wait(int fd, const io::SocketAddress& peer,
                                                        const storage::File& file,
                                                        const xftp::Id& id, int eof_copies,
                                                        const StopAndWaitOptions& options);

// Receives datagrams from `peer` on `fd` into `writer` (the caller commits), answering each
// non-empty one with `ack`, until a zero-length one. `early` holds datagrams from `peer` that
// arrived before the caller knew the peer (a download's first data can overtake the OK reply).
Result<std::uint64_t, TransferError> receive_stop_and_wait(int fd, const io::SocketAddress& peer,
                                                           storage::AtomicWriter& writer,
                                                           const std::vector<std::uint8_t>& ack,
                                                           std::deque<std::string> early,
                                                           const StopAndWaitOptions& options);

}  // namespace ferry::session
