// One extended-mode XFTP transfer run through the simulated network: the real sender and
// receiver cores (proto/xftp/transfer) and the real codec (proto/xftp/extended), on a virtual
// clock. The receiver's "file" is memory; verification is the real XXH3-128.
#pragma once

#include <optional>
#include <string>

#include "proto/xftp/transfer.hpp"
#include "sim/network.hpp"

namespace ferry::sim {

struct TransferSimConfig {
  LinkConfig forward;   // sender -> receiver
  LinkConfig backward;  // receiver -> sender
  std::uint64_t size = 1 << 20;
  std::uint64_t seed = 1;
  xftp::SenderConfig sender;
  xftp::ReceiverConfig receiver;
  Time time_limit = std::chrono::seconds(600);  // virtual
  std::uint64_t max_events = 50'000'000;
  // Bytes the receiver already holds (a resumed transfer), and whether they are right.
  xftp::RangeSet present;
  bool corrupt_present = false;
};

struct TransferSimResult {
  bool identical = false;  // the receiver's bytes are the sender's
  std::optional<xftp::ext::EndStatus> sender_outcome;
  std::optional<xftp::ext::EndStatus> receiver_outcome;
  Time elapsed{};  // virtual
  std::uint64_t events = 0;
  xftp::SenderStats sender;
  xftp::ReceiverStats receiver;
  LinkStats forward, backward;
  std::uint64_t decode_errors = 0;
  std::string summary() const;
};

TransferSimResult simulate_transfer(const TransferSimConfig& config);

// The link of the acceptance criteria: 1 Gbit/s, 50 ms round trip, a one-BDP queue, random loss
// with reordering and duplication.
LinkConfig gigabit_50ms(double loss, double reorder = 0.01, double duplicate = 0.01);

}  // namespace ferry::sim
