// Text that came from the other side, made safe for a log line: nothing in it can end the line,
// forge another one, move a terminal's cursor or bury the log under megabytes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry {

// Control characters (C0, DEL and C1), line separators and bidirectional controls, invalid UTF-8,
// the backslash and the double quote escaped (\n, \t, \x1b, \\, \"), other UTF-8 kept; longer than
// `max_bytes` of input: cut, with "...(+N bytes)" appended. The result is one line of at most about
// 4 * max_bytes + 24 bytes.
std::string printable(std::string_view text, std::size_t max_bytes = 160);

// A token bucket for log lines an attacker can cause: `per_second` on average, bursts of
// `burst`. Time comes in as an argument. What it refuses is counted so that the next line
// allowed can say how many were left out.
class RateLimit {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  RateLimit(double per_second, double burst) : rate_(per_second), burst_(burst), tokens_(burst) {}
  bool allow(TimePoint now) noexcept;
  // Lines refused since the last call (and resets the count).
  std::uint64_t take_suppressed() noexcept {
    const auto n = suppressed_;
    suppressed_ = 0;
    return n;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  TimePoint last_{};
  bool started_ = false;
  std::uint64_t suppressed_ = 0;
};

}  // namespace ferry
