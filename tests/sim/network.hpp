// A deterministic network for the tests: in-process, on a virtual clock, no sockets and no
// sleeping. Two one-way links (a rate, a propagation delay, a drop-tail queue) that lose,
// reorder and duplicate datagrams at random, all from one seed (in the manner of ngtcp2's example
// simulator). It carries bytes; what the endpoints do with them is theirs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <random>
#include <vector>

namespace ferry::sim {

using Time = std::chrono::nanoseconds;

struct LinkConfig {
  double rate_bits_per_s = 1e9;
  Time delay = std::chrono::milliseconds(25);      // one way
  std::size_t queue_bytes = 6'250'000;             // drop-tail
  double loss = 0;                                 // probability a datagram is lost
  double reorder = 0;                              // probability it is held back ...
  Time reorder_by = std::chrono::milliseconds(5);  // ... by up to this much more
  double duplicate = 0;                            // probability it arrives twice
};

struct LinkStats {
  std::uint64_t sent = 0, lost = 0, queue_drops = 0, reordered = 0, duplicated = 0;
  std::uint64_t delivered = 0;
};

// Both directions of a path between endpoint 0 and endpoint 1, and the clock.
class Network {
 public:
  Network(LinkConfig forward, LinkConfig backward, std::uint64_t seed);

  // Endpoint `from` (0 or 1) sends `bytes` now.
  void send(int from, std::vector<std::uint8_t> bytes);
  // The next arrival, if any arrives at or before `until`: advances the clock to it.
  struct Arrival {
    int to = 0;
    std::vector<std::uint8_t> bytes;
  };
  std::optional<Arrival> next_arrival(Time until);
  std::optional<Time> next_arrival_time() const;
  Time now() const noexcept { return now_; }
  void advance_to(Time t) noexcept {
    if (t > now_) now_ = t;
  }
  const LinkStats& stats(int from) const { return links_[from].stats; }

 private:
  struct Link {
    LinkConfig config;
    Time busy_until{};
    LinkStats stats;
  };
  struct Event {
    Time at;
    std::uint64_t order;  // ties in sending order: the simulation stays deterministic
    int to;
    std::vector<std::uint8_t> bytes;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  Link links_[2];
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::mt19937_64 rng_;
  std::uint64_t order_ = 0;
  Time now_{};
};

}  // namespace ferry::sim
