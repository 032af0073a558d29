// The full simulation sweep of XFTP extended mode's reliability (issue 13's acceptance): a 64 MiB
// transfer over a 1 Gbit/s, 50 ms round-trip link with a one-BDP drop-tail queue, 1% reordering
// (up to 5 ms) and 1% duplication, at 0, 1, 5 and 20% random loss in both directions, 100 seeds
// each. Prints, per loss rate, how many runs arrived byte-identical and in place, and the
// virtual time and retransmissions they took. Exit status 1 if any run did not.
// Usage: bench_xftp_simulation [SEEDS] [MIB]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "sim/transfer_sim.hpp"

int main(int argc, char** argv) {
  const int seeds = argc > 1 ? std::atoi(argv[1]) : 100;
  const std::uint64_t mib = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 64;
  bool all = true;
  std::printf("%-6s %6s %10s %12s %12s %12s %10s\n", "loss", "runs", "identical", "median s",
              "worst s", "goodput", "resent");
  for (double loss : {0.0, 0.01, 0.05, 0.20}) {
    int good = 0;
    std::vector<double> times;
    double resent = 0;
    for (int seed = 1; seed <= seeds; ++seed) {
      ferry::sim::TransferSimConfig c;
      c.forward = ferry::sim::gigabit_50ms(loss);
      c.backward = ferry::sim::gigabit_50ms(loss);
      c.size = mib << 20;
      c.seed = static_cast<std::uint64_t>(seed);
      const auto r = ferry::sim::simulate_transfer(c);
      const bool ok = r.identical && r.sender_outcome == ferry::xftp::ext::EndStatus::in_place &&
                      r.receiver_outcome == ferry::xftp::ext::EndStatus::in_place;
      if (ok) {
        ++good;
      } else {
        std::printf("  seed %d at %.0f%%: %s\n", seed, loss * 100, r.summary().c_str());
      }
      times.push_back(std::chrono::duration<double>(r.elapsed).count());
      resent += static_cast<double>(r.sender.retransmitted) /
                static_cast<double>(std::max<std::uint64_t>(r.sender.datagrams, 1));
    }
    std::sort(times.begin(), times.end());
    const double median = times[times.size() / 2];
    std::printf("%5.0f%% %6d %10d %12.3f %12.3f %9.1f MB/s %9.1f%%\n", loss * 100, seeds, good,
                median, times.back(), static_cast<double>(mib << 20) / 1e6 / median,
                100 * resent / seeds);
    all = all && good == seeds;
  }
  return all ? 0 : 1;
}
