// The two ends of an extended-mode transfer, without I/O (docs/protocol/xftp-extended.md,
// "Transfers"): datagrams and the current time in, datagrams to send and bytes to write out, and
// the time at which to call again. The session layer drives them over sockets; the simulator in
// tests/sim drives them over a virtual network.
//
// The sender sends each byte range once, and again only when its transmission is known lost: an
// acknowledgement of three later transmissions, or of a later one sent more than 9/8 of a round
// trip after it (RFC 9002's thresholds), or a probe timeout with nothing acknowledged. The
// receiver acknowledges transmissions by number (ranges, highest first) every second datagram
// and at once when one arrives out of order, and grants flow-control credit. Congestion control
// proper comes later: the window is fixed (WindowPolicy is where it will live).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include "proto/xftp/extended.hpp"
#include "proto/xftp/range_set.hpp"

namespace ferry::xftp {

using Time = std::chrono::nanoseconds;  // since an epoch of the host's choosing

// Every receiver grants at least this much beyond the first byte it lacks, before its first ACK
// says more.
inline constexpr std::uint64_t kInitialCredit = 16 << 20;
// Every DATA but the one that ends the file carries at least this much (so that what a
// receiver remembers of the arrived ranges stays bounded: a flood of 1-byte fragments is refused).
inline constexpr std::size_t kMinDataPayload = 512;

// How much may be in flight. Fixed today; congestion control replaces it (on_ack / on_loss).
struct WindowPolicy {
  std::uint64_t window_bytes = 4 << 20;
  std::uint64_t allowed() const noexcept { return window_bytes; }
  void on_ack(std::uint64_t /*bytes*/, Time /*rtt*/) noexcept {}
  void on_loss(std::uint64_t /*bytes*/) noexcept {}
};

struct SenderConfig {
  std::uint32_t transfer = 0;
  std::size_t payload_bytes = ext::kMinDatagram - ext::kDataOverhead;
  WindowPolicy window;
  Time initial_rtt = std::chrono::milliseconds(100);
  Time max_ack_delay = std::chrono::milliseconds(5);
  // No acknowledgement for this long while something is outstanding: the peer is gone.
  Time idle_timeout = std::chrono::seconds(30);
  // What the receiver grants beyond the first byte it lacks before its first ACK (the
  // protocol's minimum, see the document).
  std::uint64_t initial_credit = kInitialCredit;
};

struct SenderStats {
  std::uint64_t datagrams = 0;
  std::uint64_t retransmitted = 0;  // datagrams that carried bytes sent before
  std::uint64_t fresh_bytes = 0;    // bytes sent for the first time
  std::uint64_t lost = 0;           // transmissions declared lost
  std::uint64_t probes = 0;         // probe timeouts
  std::uint64_t acks = 0;
  std::uint64_t bad_acks = 0;  // acknowledging what was never sent: ignored
};

// What the sender wants sent next: bytes of the file (the host reads them and sends a DATA) or
// the END.
struct SendData {
  std::uint64_t seq = 0;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

class TransferSender {
 public:
  // `present`: bytes the receiver already holds (resume): never sent.
  TransferSender(SenderConfig config, std::uint64_t size, ext::Checksum checksum,
                 const RangeSet& present = {});

  void on_ack(const ext::Ack& ack, Time now);
  void on_end_ok(const ext::EndOk& end, Time now);
  // The next datagram to send now, if any: call until it returns nothing, then wait until
  // deadline() or the next datagram from the peer.
  std::optional<std::variant<SendData, ext::End>> next(Time now);
  // When to call on_timeout (nothing: when the transfer is over).
  std::optional<Time> deadline() const;
  void on_timeout(Time now);

  // The peer's ABORT (or our own end): the transfer is over, failed.
  void abort() noexcept {
    if (!outcome_) outcome_ = ext::EndStatus::failed;
  }
  std::uint32_t transfer() const noexcept { return config_.transfer; }
  bool done() const noexcept { return outcome_.has_value(); }
  // Once done: in place (the receiver checked the checksum and renamed), or why not.
  const std::optional<ext::EndStatus>& outcome() const noexcept { return outcome_; }
  bool timed_out() const noexcept { return timed_out_; }
  std::uint64_t acked_bytes() const noexcept { return acked_.count(); }
  std::uint64_t size() const noexcept { return size_; }
  const SenderStats& stats() const noexcept { return stats_; }
  Time smoothed_rtt() const noexcept { return srtt_; }

 private:
  struct InFlight {
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    Time sent{};
  };
  Time probe_timeout() const;
  void detect_losses(Time now);
  void lose(std::map<std::uint64_t, InFlight>::iterator it);
  std::optional<SendData> take_range(bool ignore_credit);
  // Queues the oldest transmission in flight whose bytes have not all arrived, dropping older
  // ones whose bytes have; false when there is none.
  bool queue_oldest_missing();
  bool outstanding() const noexcept { return !in_flight_.empty() || (end_sent_once_ && !outcome_); }

  SenderConfig config_;
  std::uint64_t size_;
  ext::Checksum checksum_;
  RangeSet acked_;                               // bytes the receiver has
  std::deque<Range> retransmit_;                 // lost bytes, to send again (first)
  std::deque<Range> unsent_;                     // bytes never sent, in order
  std::map<std::uint64_t, InFlight> in_flight_;  // by seq
  std::uint64_t in_flight_bytes_ = 0;
  std::uint64_t next_seq_ = 0;
  std::uint64_t largest_acked_ = 0;
  bool any_acked_ = false;
  std::uint64_t max_data_ = 0;  // the receiver's credit
  Time srtt_{}, rttvar_{}, latest_rtt_{};
  bool have_rtt_ = false;
  std::optional<Time> loss_time_;  // earliest time an in-flight transmission counts as lost
  Time last_progress_{};           // last ack that acknowledged something, or the start
  Time last_sent_{};
  bool started_ = false;
  int probes_in_a_row_ = 0;
  bool probe_due_ = false;
  bool end_due_ = false;  // send END (first time, or after a probe timeout)
  Time end_sent_{};
  bool end_sent_once_ = false;
  std::optional<ext::EndStatus> outcome_;
  bool timed_out_ = false;
  SenderStats stats_;
};

struct ReceiverConfig {
  std::uint32_t transfer = 0;
  // Flow-control credit beyond the first missing byte.
  std::uint64_t window_bytes = 64 << 20;
  Time max_ack_delay = std::chrono::milliseconds(5);
  Time idle_timeout = std::chrono::seconds(30);
  std::size_t max_ack_ranges = 128;  // per ACK (fits a 1232-byte datagram... with room)
};

struct ReceiverStats {
  std::uint64_t datagrams = 0;
  std::uint64_t duplicates = 0;     // bytes that had all arrived before
  std::uint64_t beyond_credit = 0;  // datagrams past the credit or the size: dropped
  std::uint64_t acks = 0;
};

// What the receiver asks of its host: write these parts of the datagram's payload (its bytes
// that are new, at their offsets in the file). Bytes already in place are never written again:
// they may have been hashed already, and a datagram that overlaps them (a spoofed one, or one
// of a file that changed) must not change them.
struct WriteBytes {
  std::vector<Range> parts;
};
// Everything arrived and the sender's END came: check the whole file against `checksum`, put it
// in place, then call on_verified().
struct VerifyAndCommit {
  ext::Checksum checksum{};
};

class TransferReceiver {
 public:
  TransferReceiver(ReceiverConfig config, std::uint64_t size, const RangeSet& present = {});

  // The transfer starts now: from here on, silence for the idle timeout ends it (even before the
  // first datagram: a sender that never sends must not hold the receiver).
  void begin(Time now) noexcept {
    last_heard_ = now;
    heard_ = true;
  }
  // A DATA datagram: whether its payload is to be written (some of its bytes are new).
  std::optional<WriteBytes> on_data(const ext::Data& d, Time now);
  // The END: asks for verification once every byte is there.
  std::optional<VerifyAndCommit> on_end(const ext::End& e, Time now);
  // The host's verdict on VerifyAndCommit (in place, or the checksum differed, or it failed).
  void on_verified(ext::EndStatus status);

  // The next datagram to send now (an ACK, or the END_OK), if any.
  std::optional<std::variant<ext::Ack, ext::EndOk>> next(Time now);
  std::optional<Time> deadline() const;
  void on_timeout(Time now);

  void abort() noexcept {
    if (!outcome_) outcome_ = ext::EndStatus::failed;
  }
  std::uint32_t transfer() const noexcept { return config_.transfer; }
  bool complete() const noexcept { return have_.count() == size_; }
  const std::optional<ext::EndStatus>& outcome() const noexcept { return outcome_; }
  bool timed_out() const noexcept { return timed_out_; }
  const RangeSet& present() const noexcept { return have_; }
  std::uint64_t size() const noexcept { return size_; }
  const ReceiverStats& stats() const noexcept { return stats_; }

 private:
  std::uint64_t credit() const noexcept;

  ReceiverConfig config_;
  std::uint64_t size_;
  RangeSet have_;  // bytes in place
  RangeSet seen_;  // transmissions (seq) that arrived, the newest kept
  std::uint64_t largest_ = 0;
  bool any_ = false;
  Time largest_at_{};
  int unacked_ = 0;  // datagrams since the last ACK
  bool ack_now_ = false;
  std::optional<Time> ack_at_;
  Time last_heard_{};
  bool heard_ = false;
  bool verifying_ = false;
  bool end_ok_due_ = false;
  std::optional<ext::EndStatus> outcome_;
  bool timed_out_ = false;
  ReceiverStats stats_;
};

}  // namespace ferry::xftp
