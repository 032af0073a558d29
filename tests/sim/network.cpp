#include "sim/network.hpp"

#include <optional>

namespace ferry::sim {

Network::Network(LinkConfig forward, LinkConfig backward, std::uint64_t seed)
    : links_{{forward, {}, {}}, {backward, {}, {}}}, rng_(seed) {}

void Network::send(int from, std::vector<std::uint8_t> bytes) {
  Link& link = links_[from];
  ++link.stats.sent;
  // The queue holds what has not left yet: (busy_until - now) at the link's rate.
  const double bytes_per_ns = link.config.rate_bits_per_s / 8e9;
  const Time start = link.busy_until > now_ ? link.busy_until : now_;
  const double queued = static_cast<double>((start - now_).count()) * bytes_per_ns;
  if (queued + static_cast<double>(bytes.size()) > static_cast<double>(link.config.queue_bytes)) {
    ++link.stats.queue_drops;
    return;
  }
  const Time serialisation(
      static_cast<std::int64_t>(static_cast<double>(bytes.size() + 28) / bytes_per_ns));
  link.busy_until = start + serialisation;
  if (chance(link.config.loss)) {
    ++link.stats.lost;
    return;
  }
  Time at = link.busy_until + link.config.delay;
  if (chance(link.config.reorder)) {
    ++link.stats.reordered;
    at +=
        Time(std::uniform_int_distribution<std::int64_t>(1, link.config.reorder_by.count())(rng_));
  }
  if (chance(link.config.duplicate)) {
    ++link.stats.duplicated;
    events_.push({at + std::chrono::microseconds(50), order_++, 1 - from, bytes});
  }
  events_.push({at, order_++, 1 - from, std::move(bytes)});
}

std::optional<Time> Network::next_arrival_time() const {
  if (events_.empty()) return std::nullopt;
  return events_.top().at;
}

std::optional<Network::Arrival> Network::next_arrival(Time until) {
  if (events_.empty() || events_.top().at > until) return std::nullopt;
  Event e = events_.top();
  events_.pop();
  advance_to(e.at);
  ++links_[1 - e.to].stats.delivered;
  return Arrival{e.to, std::move(e.bytes)};
}

}  // namespace ferry::sim
