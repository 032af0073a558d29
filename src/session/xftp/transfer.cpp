#include "session/xftp/transfer.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/bulk_buffer.hpp"
#include "io/udp.hpp"

namespace ferry::session {
namespace {

using Clock = std::chrono::steady_clock;
// File I/O unit: 16 datagrams. Small enough that one read or write fits in the wait for the
// peer (a round trip is ~30 us on loopback), so the disk never stalls the exchange.
constexpr std::size_t kBlock = std::size_t{64} << 10;
constexpr std::size_t kMaxDatagram = 65536;
constexpr std::uint64_t kProgressEvery = std::uint64_t{1} << 20;

// Waits for datagrams with one blocking recvfrom each; the wait is cut into slices so that a stop
// request is noticed, and the idle time counts from the last datagram the caller accepted.
class Receiver {
 public:
  Receiver(int fd, const StopAndWaitOptions& o) : fd_(fd), options_(o) {
    auto slice = options_.idle;
    if (options_.stop != nullptr) slice = std::min(slice, io::Timeout(250));
    timeout_set_ = static_cast<bool>(io::set_receive_timeout(fd_, slice));
    last_ = Clock::now();
  }
  void accepted() { last_ = Clock::now(); }
  Result<std::size_t, TransferError> next(MutableBytes buf, io::SocketAddress& from) {
    if (!timeout_set_) return Unexpected(TransferError{TransferError::Kind::network, "setsockopt"});
    if (options_.busy_poll.count() > 0 && skip_polls_ > 0) {
      --skip_polls_;
    } else if (options_.busy_poll.count() > 0) {
      const auto until = Clock::now() + options_.busy_poll;
      for (unsigned i = 0;; ++i) {
        auto n = io::try_receive_datagram(fd_, buf, from);
        if (n) {
          backoff_ /= 2;  // hits and misses alternating under load keep it sleeping mostly
          return *n;
        }
        if (n.error().sys_errno != EAGAIN) {
          return Unexpected(TransferError{TransferError::Kind::network, n.error().message()});
        }
        if (i % 8 == 7 && Clock::now() >= until) break;
      }
      // Polling in vain means the peer is slow or the CPUs are busy; then it only burns the
      // time others need (and costs this thread the scheduler's favour for sleepers): sleep for
      // the next datagrams, twice as many after each miss.
      backoff_ = std::min<unsigned>(std::max(1U, backoff_ * 2), 4096);
      skip_polls_ = backoff_;
    }
    for (;;) {
      auto n = io::receive_datagram(fd_, buf, from);
      if (n) return *n;
      if (n.error().sys_errno != ETIMEDOUT) {
        return Unexpected(TransferError{TransferError::Kind::network, n.error().message()});
      }
      if (options_.stop != nullptr && options_.stop->load()) {
        return Unexpected(TransferError{TransferError::Kind::stopped, "shutting down"});
      }
      if (Clock::now() - last_ >= options_.idle) {
        const auto s = std::chrono::duration_cast<std::chrono::seconds>(options_.idle).count();
        return Unexpected(TransferError{TransferError::Kind::silent_peer,
                                        "nothing from the peer for " + std::to_string(s) + " s"});
      }
    }
  }

 private:
  int fd_;
  const StopAndWaitOptions& options_;
  bool timeout_set_ = false;
  unsigned backoff_ = 0;     // doubles with each polling miss, halves with each hit
  unsigned skip_polls_ = 0;  // datagrams left to wait for without polling
  Clock::time_point last_;
};

TransferError network_error(const io::Error& e) {
  return {TransferError::Kind::network, e.message()};
}

TransferError file_error(const storage::Error& e) {
  return {TransferError::Kind::local_file, e.message()};
}

// Fills `out` from `offset` up to its size or the end of the file.
Result<std::size_t, TransferError> read_block(const storage::File& file, MutableBytes out,
                                              std::uint64_t offset) {
  std::size_t got = 0;
  while (got < out.size()) {
    auto n = file.pread_some(out.subspan(got), offset + got);
    if (!n) return Unexpected(file_error(n.error()));
    if (*n == 0) break;
    got += *n;
  }
  return got;
}

}  // namespace

Result<std::uint64_t, TransferError> send_stop_and_wait(int fd, const io::SocketAddress& peer,
                                                        const storage::File& file,
                                                        const xftp::Id& id, int eof_copies,
                                                        const StopAndWaitOptions& options) {
  Receiver receiver(fd, options);
  BulkBuffer current(kBlock), ahead(kBlock);
  std::vector<std::byte> in(kMaxDatagram);
  auto first = read_block(file, current.span(), 0);
  if (!first) return Unexpected(first.error());
  std::size_t current_len = *first;
  std::uint64_t read_offset = current_len;
  std::uint64_t sent = 0;
  std::uint64_t reported = 0;
  while (current_len > 0) {
    std::size_t ahead_len = 0;
    for (std::size_t pos = 0; pos < current_len;) {
      const std::size_t len = std::min(xftp::kLegacyDatagram, current_len - pos);
      if (auto s = io::send_to(fd, {current.data() + pos, len}, peer); !s) {
        return Unexpected(network_error(s.error()));
      }
      if (pos + len == current_len) {  // read the next block while this datagram travels
        auto r = read_block(file, ahead.span(), read_offset);
        if (!r) return Unexpected(r.error());
        ahead_len = *r;
        read_offset += ahead_len;
      }
      for (bool acked = false; !acked;) {
        io::SocketAddress from;
        auto n = receiver.next(in, from);
        if (!n) return Unexpected(n.error());
        if (!io::same_endpoint(from, peer)) continue;
        auto ack = xftp::decode({in.data(), *n});
        acked = ack && ack->status == xftp::Status::ack && ack->id == id;
      }
      receiver.accepted();
      pos += len;
      sent += len;
      if (options.progress && sent - reported >= kProgressEvery) {
        options.progress(sent);
        reported = sent;
      }
    }
    std::swap(current, ahead);
    current_len = ahead_len;
  }
  for (int i = 0; i < eof_copies; ++i) {
    if (auto s = io::send_to(fd, {}, peer); !s && i == 0) {
      return Unexpected(network_error(s.error()));
    }
  }
  if (options.progress) options.progress(sent);
  return sent;
}

Result<std::uint64_t, TransferError> receive_stop_and_wait(int fd, const io::SocketAddress& peer,
                                                           storage::AtomicWriter& writer,
                                                           const std::vector<std::uint8_t>& ack,
                                                           std::deque<std::string> early,
                                                           const StopAndWaitOptions& options) {
  Receiver receiver(fd, options);
  const Bytes ack_bytes = as_bytes(ack);
  // Datagrams land directly behind the bytes not yet written; the block goes to the file when
  // full, after the ACK has been sent, so the disk works while the peer sends the next one.
  BulkBuffer block(kBlock + kMaxDatagram);
  std::size_t fill = 0;
  std::uint64_t written = 0;
  std::uint64_t reported = 0;
  for (;;) {
    const MutableBytes room{block.data() + fill, kMaxDatagram};
    std::size_t n = 0;
    if (!early.empty()) {
      n = std::min(early.front().size(), room.size());
      std::memcpy(room.data(), early.front().data(), n);
      early.pop_front();
    } else {
      io::SocketAddress from;
      auto got = receiver.next(room, from);
      if (!got) return Unexpected(got.error());
      if (!io::same_endpoint(from, peer)) continue;  // data only from the peer of this transfer
      n = *got;
    }
    receiver.accepted();
    if (n == 0) break;
    if (auto s = io::send_to(fd, ack_bytes, peer); !s) return Unexpected(network_error(s.error()));
    fill += n;
    if (fill >= kBlock) {
      if (auto w = writer.pwrite_all({block.data(), fill}, written); !w) {
        return Unexpected(file_error(w.error()));
      }
      written += fill;
      fill = 0;
    }
    if (options.progress && written + fill - reported >= kProgressEvery) {
      reported = written + fill;
      options.progress(reported);
    }
  }
  if (fill > 0) {
    if (auto w = writer.pwrite_all({block.data(), fill}, written); !w) {
      return Unexpected(file_error(w.error()));
    }
    written += fill;
  }
  if (options.progress) options.progress(written);
  return written;
}

}  // namespace ferry::session
