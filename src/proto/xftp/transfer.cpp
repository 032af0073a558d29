#include "proto/xftp/transfer.hpp"

#include <algorithm>

namespace ferry::xftp {
namespace {

constexpr Time kGranularity = std::chrono::milliseconds(1);
constexpr int kPacketThreshold = 3;
constexpr std::size_t kSeenKept = 4096;  // transmission ranges a receiver remembers

Time max_time(Time a, Time b) {
  return a > b ? a : b;
}

}  // namespace

// ---- sender ----

TransferSender::TransferSender(SenderConfig config, std::uint64_t size, ext::Checksum checksum,
                               const RangeSet& present)
    : config_(config), size_(size), checksum_(checksum), max_data_(config.initial_credit) {
  for (const auto& r : present.ascending()) {
    if (r.first < size_) acked_.add(r.first, std::min(r.last, size_));
  }
  for (const auto& r : acked_.missing(0, size_)) unsent_.push_back(r);
  // The first credit counts from the first byte the receiver lacks (a resume may hold more than
  // the credit: counted from 0, nothing could be sent until a probe).
  max_data_ = acked_.end_of_run(0) + config_.initial_credit;
  config_.payload_bytes = std::max<std::size_t>(config_.payload_bytes, kMinDataPayload);
  srtt_ = config_.initial_rtt;
  rttvar_ = config_.initial_rtt / 2;
  if (acked_.count() == size_) end_due_ = true;  // nothing to send (empty, or all there)
}

Time TransferSender::probe_timeout() const {
  return srtt_ + max_time(4 * rttvar_, kGranularity) + config_.max_ack_delay;
}

std::optional<SendData> TransferSender::take_range(bool ignore_credit) {
  for (auto* queue : {&retransmit_, &unsent_}) {
    while (!queue->empty()) {
      Range& r = queue->front();
      // Bytes acknowledged meanwhile (through another transmission) are not sent again.
      const auto gaps = acked_.missing(r.first, r.last);
      if (gaps.empty()) {
        queue->pop_front();
        continue;
      }
      if (gaps.front().first != r.first) {
        r.first = gaps.front().first;
      }
      std::uint64_t end = std::min({r.first + config_.payload_bytes, gaps.front().last, r.last});
      // Never less than the protocol's minimum but at the file's end: what lies beyond (bytes
      // already there, or the next range) goes again, which the receiver takes as duplicates.
      if (end - r.first < kMinDataPayload && end != size_) {
        end = std::min<std::uint64_t>(size_, r.first + kMinDataPayload);
      }
      if (!ignore_credit && end > max_data_) return std::nullopt;  // flow control: wait
      SendData s{next_seq_++, r.first, end - r.first};
      if (queue == &unsent_) stats_.fresh_bytes += std::min(end, r.last) - r.first;
      r.first = std::min(end, r.last);
      if (r.first >= r.last) queue->pop_front();
      return s;
    }
  }
  return std::nullopt;
}

std::optional<std::variant<SendData, ext::End>> TransferSender::next(Time now) {
  if (outcome_) return std::nullopt;
  if (!started_) {
    started_ = true;
    last_progress_ = now;
  }
  if (acked_.count() == size_) {
    if (!end_due_) return std::nullopt;
    end_due_ = false;
    end_sent_once_ = true;
    end_sent_ = last_sent_ = now;
    ++stats_.datagrams;
    return ext::End{config_.transfer, size_, checksum_};
  }
  bool probe = false;
  if (probe_due_) {
    probe_due_ = false;
    probe = true;
    // A probe carries what is most likely missing: the oldest outstanding bytes. Ranges queued
    // again whose bytes arrived meanwhile go first, or the probe would carry fresh bytes (past
    // the credit, dropped) while the missing ones wait a doubled timeout more.
    std::erase_if(retransmit_, [&](const Range& r) { return acked_.contains(r.first, r.last); });
    if (retransmit_.empty()) queue_oldest_missing();
  }
  if (!probe && in_flight_bytes_ >= config_.window.allowed()) return std::nullopt;
  const bool was_retransmission = !retransmit_.empty();
  auto s = take_range(probe);
  if (!s) return std::nullopt;
  in_flight_[s->seq] = InFlight{s->offset, s->length, now};
  in_flight_bytes_ += s->length;
  last_sent_ = now;
  ++stats_.datagrams;
  if (was_retransmission) ++stats_.retransmitted;
  return *s;
}

bool TransferSender::queue_oldest_missing() {
  // Transmissions whose bytes arrived through another one (a later ACK's contiguous offset, or
  // a copy sent again) are done with, however new: a probe of them would send nothing, the next
  // probe would wait twice as long for nothing, and the idle timeout would end a transfer with
  // bytes still to send (seen through a policed link, where copies and losses interleave).
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    const auto& f = it->second;
    if (acked_.contains(f.offset, f.offset + f.length)) {
      in_flight_bytes_ -= f.length;
      it = in_flight_.erase(it);
      continue;
    }
    retransmit_.push_front({f.offset, f.offset + f.length});
    return true;
  }
  return false;
}

void TransferSender::on_ack(const ext::Ack& ack, Time now) {
  if (outcome_ || ack.transfer != config_.transfer) return;
  ++stats_.acks;
  if (!ack.ranges.empty() && ack.largest >= next_seq_) {
    ++stats_.bad_acks;  // acknowledges transmissions that never were: not from our receiver
    return;
  }
  max_data_ = std::max(max_data_, ack.max_data);
  const std::uint64_t before = acked_.count();
  if (ack.contiguous > 0) acked_.add(0, std::min(ack.contiguous, size_));
  std::optional<Time> largest_sent;
  for (const auto& r : ack.ranges) {
    for (auto it = in_flight_.lower_bound(r.first); it != in_flight_.end() && it->first < r.last;) {
      acked_.add(it->second.offset, it->second.offset + it->second.length);
      in_flight_bytes_ -= it->second.length;
      if (it->first == ack.largest) largest_sent = it->second.sent;
      it = in_flight_.erase(it);
    }
  }
  if (!ack.ranges.empty() && (!any_acked_ || ack.largest > largest_acked_)) {
    largest_acked_ = ack.largest;
    any_acked_ = true;
    if (largest_sent) {
      // An RTT sample (RFC 6298 smoothing), less the delay the receiver says it added.
      Time rtt = now - *largest_sent;
      const Time delay =
          std::min<Time>(std::chrono::microseconds(ack.delay_us), config_.max_ack_delay);
      if (rtt > delay + kGranularity) rtt -= delay;
      latest_rtt_ = rtt;
      if (!have_rtt_) {
        srtt_ = rtt;
        rttvar_ = rtt / 2;
        have_rtt_ = true;
      } else {
        const Time diff = srtt_ > rtt ? srtt_ - rtt : rtt - srtt_;
        rttvar_ = (3 * rttvar_ + diff) / 4;
        srtt_ = (7 * srtt_ + rtt) / 8;
      }
    }
  }
  const std::uint64_t newly = acked_.count() - before;
  if (end_sent_once_) last_progress_ = now;  // the receiver is alive, checking the file
  if (newly > 0) {
    last_progress_ = now;
    probes_in_a_row_ = 0;
    config_.window.on_ack(newly, latest_rtt_);
  }
  detect_losses(now);
  if (acked_.count() == size_ && !end_sent_once_) end_due_ = true;
}

void TransferSender::lose(std::map<std::uint64_t, InFlight>::iterator it) {
  ++stats_.lost;
  config_.window.on_loss(it->second.length);
  retransmit_.push_back({it->second.offset, it->second.offset + it->second.length});
  in_flight_bytes_ -= it->second.length;
  in_flight_.erase(it);
}

void TransferSender::detect_losses(Time now) {
  loss_time_.reset();
  if (!any_acked_) return;
  const Time delay = max_time(9 * max_time(srtt_, latest_rtt_) / 8, kGranularity);
  for (auto it = in_flight_.begin(); it != in_flight_.end() && it->first < largest_acked_;) {
    const auto& f = it->second;
    if (acked_.contains(f.offset, f.offset + f.length)) {  // arrived by another transmission
      in_flight_bytes_ -= f.length;
      it = in_flight_.erase(it);
      continue;
    }
    if (largest_acked_ - it->first >= kPacketThreshold || f.sent + delay <= now) {
      auto lost = it++;
      lose(lost);
      continue;
    }
    const Time at = f.sent + delay;
    if (!loss_time_ || at < *loss_time_) loss_time_ = at;
    ++it;
  }
}

void TransferSender::on_end_ok(const ext::EndOk& end, Time) {
  if (outcome_ || end.transfer != config_.transfer || !end_sent_once_) return;
  outcome_ = end.status;
}

std::optional<Time> TransferSender::deadline() const {
  if (outcome_) return std::nullopt;
  std::optional<Time> at;
  auto earliest = [&](Time t) {
    if (!at || t < *at) at = t;
  };
  if (loss_time_) earliest(*loss_time_);
  const bool blocked = !retransmit_.empty() || !unsent_.empty();
  if (outstanding() || (started_ && blocked && in_flight_.empty())) {
    earliest(last_sent_ + probe_timeout() * (1 << std::min(probes_in_a_row_, 16)));
    earliest(last_progress_ + config_.idle_timeout);
  }
  return at;
}

void TransferSender::on_timeout(Time now) {
  if (outcome_) return;
  if (started_ && now >= last_progress_ + config_.idle_timeout &&
      (outstanding() || !retransmit_.empty() || !unsent_.empty())) {
    timed_out_ = true;
    outcome_ = ext::EndStatus::failed;
    return;
  }
  if (loss_time_ && now >= *loss_time_) {
    detect_losses(now);
    return;
  }
  if (now >= last_sent_ + probe_timeout() * (1 << std::min(probes_in_a_row_, 16))) {
    ++probes_in_a_row_;
    ++stats_.probes;
    if (acked_.count() == size_) {
      end_due_ = true;  // the END (or its END_OK) was lost
    } else {
      probe_due_ = true;
    }
    last_sent_ = now;  // the next probe waits a whole (doubled) timeout
  }
}

// ---- receiver ----

TransferReceiver::TransferReceiver(ReceiverConfig config, std::uint64_t size,
                                   const RangeSet& present)
    : config_(config), size_(size) {
  for (const auto& r : present.ascending()) {
    if (r.first < size_) have_.add(r.first, std::min(r.last, size_));
  }
}

std::uint64_t TransferReceiver::credit() const noexcept {
  return have_.end_of_run(0) + std::max(config_.window_bytes, kInitialCredit);
}

std::optional<WriteBytes> TransferReceiver::on_data(const ext::Data& d, Time now) {
  if (outcome_ || d.transfer != config_.transfer) return std::nullopt;
  last_heard_ = now;
  heard_ = true;
  ++stats_.datagrams;
  const std::uint64_t end = d.offset + d.payload.size();
  const bool too_small = d.payload.size() < kMinDataPayload && end != size_;
  if (d.payload.empty() || too_small || end > size_ || end > credit()) {
    ++stats_.beyond_credit;
    ack_now_ = true;  // says again where the credit ends
    return std::nullopt;
  }
  if (!any_ || d.seq > largest_) {
    if (any_ && d.seq > largest_ + 1) ack_now_ = true;  // a gap: tell the sender at once
    largest_ = d.seq;
    largest_at_ = now;
    any_ = true;
  } else {
    ack_now_ = true;  // out of order
  }
  seen_.add(d.seq, d.seq + 1);
  seen_.keep_highest(kSeenKept);
  if (++unacked_ >= 2) ack_now_ = true;
  if (!ack_at_) ack_at_ = now + config_.max_ack_delay;
  auto parts = have_.missing(d.offset, end);
  if (parts.empty()) {
    ++stats_.duplicates;
    return std::nullopt;
  }
  have_.add(d.offset, end);
  return WriteBytes{std::move(parts)};
}

std::optional<VerifyAndCommit> TransferReceiver::on_end(const ext::End& e, Time now) {
  if (e.transfer != config_.transfer) return std::nullopt;
  last_heard_ = now;
  heard_ = true;
  if (outcome_) {
    end_ok_due_ = true;  // our END_OK was lost: say it again
    return std::nullopt;
  }
  if (verifying_) {
    ack_now_ = true;  // still checking: an ACK tells the sender we are alive
    return std::nullopt;
  }
  if (e.size != size_) {
    outcome_ = ext::EndStatus::failed;
    end_ok_due_ = true;
    return std::nullopt;
  }
  if (!complete()) {
    ack_now_ = true;  // the sender thinks it is done: show it what is missing
    return std::nullopt;
  }
  verifying_ = true;
  return VerifyAndCommit{e.checksum};
}

void TransferReceiver::on_verified(ext::EndStatus status) {
  verifying_ = false;
  outcome_ = status;
  end_ok_due_ = true;
}

std::optional<std::variant<ext::Ack, ext::EndOk>> TransferReceiver::next(Time now) {
  if (end_ok_due_) {
    end_ok_due_ = false;
    return ext::EndOk{config_.transfer, *outcome_};
  }
  if (outcome_) {  // the file is in place (or refused): END_OK says all there is to say
    ack_now_ = false;
    ack_at_.reset();
    return std::nullopt;
  }
  if (!ack_now_ && !(ack_at_ && now >= *ack_at_)) return std::nullopt;
  ext::Ack a;
  a.transfer = config_.transfer;
  a.max_data = credit();
  a.contiguous = have_.end_of_run(0);
  if (any_) {
    a.largest = largest_;
    const auto held = now > largest_at_ ? now - largest_at_ : Time{};
    a.delay_us = static_cast<std::uint32_t>(std::min<std::int64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(held).count(), UINT32_MAX));
    for (const auto& r : seen_.descending(std::min(config_.max_ack_ranges, ext::kMaxAckRanges))) {
      a.ranges.push_back({r.first, r.last});
    }
  }
  ack_now_ = false;
  ack_at_.reset();
  unacked_ = 0;
  ++stats_.acks;
  return a;
}

std::optional<Time> TransferReceiver::deadline() const {
  if (outcome_) return std::nullopt;
  std::optional<Time> at = ack_at_;
  if (heard_ && !outcome_) {
    const Time idle = last_heard_ + config_.idle_timeout;
    if (!at || idle < *at) at = idle;
  }
  return at;
}

void TransferReceiver::on_timeout(Time now) {
  if (ack_at_ && now >= *ack_at_) ack_now_ = true;
  if (heard_ && !outcome_ && now >= last_heard_ + config_.idle_timeout) timed_out_ = true;
}

}  // namespace ferry::xftp
