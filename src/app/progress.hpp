// A one-line progress display for transfers, drawn on standard error only when it is a terminal:
// name, percentage and bar when the size is known, bytes, rate and ETA; at most ten redraws a
// second so that it costs nothing next to the transfer.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace ferry::app {

std::string human_bytes(double bytes);  // "512 B", "12.3 MiB"

class ProgressBar {
 public:
  // `enabled` false (quiet, or not a terminal) makes every call a no-op.
  ProgressBar(std::string label, std::optional<std::uint64_t> total, bool enabled);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // The size, once known (a download learns it from the server's answer).
  void set_total(std::uint64_t total) { total_ = total; }
  void update(std::uint64_t done);
  // Final state and a newline (the line stays as a record of the transfer).
  void finish(std::uint64_t done);
  // Erases the line (an error message follows).
  void abandon();

  // True when standard error is a terminal.
  static bool terminal();

 private:
  void draw(std::uint64_t done, bool final);
  using Clock = std::chrono::steady_clock;
  std::string label_;
  std::optional<std::uint64_t> total_;
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point start_;
  Clock::time_point last_draw_{};
};

}  // namespace ferry::app
