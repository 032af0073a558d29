#include "app/progress.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace ferry::app {
namespace {

std::size_t terminal_width() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) return ws.ws_col;
  return 80;
}

std::string clock_time(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

std::string human_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  std::size_t unit = 0;
  while (bytes >= 1024 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

bool ProgressBar::terminal() {
  return ::isatty(STDERR_FILENO) == 1;
}

ProgressBar::ProgressBar(std::string label, std::optional<std::uint64_t> total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), start_(Clock::now()) {}

ProgressBar::~ProgressBar() {
  if (drawn_) std::fputc('\n', stderr);
}

void ProgressBar::update(std::uint64_t done) {
  if (!enabled_) return;
  const auto now = Clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(done, false);
}

void ProgressBar::finish(std::uint64_t done) {
  if (!enabled_) return;
  draw(done, true);
  std::fputc('\n', stderr);
  drawn_ = false;
}

void ProgressBar::abandon() {
  if (!enabled_ || !drawn_) return;
  std::fputs("\r\033[K", stderr);
  drawn_ = false;
}

void ProgressBar::draw(std::uint64_t done, bool final) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  std::string right = human_bytes(static_cast<double>(done));
  if (total_) right += " / " + human_bytes(static_cast<double>(*total_));
  right += "  " + human_bytes(rate) + "/s";
  if (final) {
    right += "  in " + clock_time(elapsed);
  } else if (total_ && rate > 0 && *total_ >= done) {
    right += "  ETA " + clock_time(static_cast<double>(*total_ - done) / rate);
  }
  std::string middle;
  const std::size_t width = terminal_width();
  if (total_) {
    const double fraction =
        *total_ == 0 ? 1.0
                     : std::min(1.0, static_cast<double>(done) / static_cast<double>(*total_));
    middle = fmt::format("{:3.0f}% ", fraction * 100);
    const std::size_t used = label_.size() + middle.size() + right.size() + 6;
    if (width > used + 10) {
      const std::size_t bar = std::min<std::size_t>(width - used, 40);
      const auto filled = static_cast<std::size_t>(fraction * static_cast<double>(bar));
      middle += '[' + std::string(filled, '=') + (filled < bar ? ">" : "") +
                std::string(bar - filled - (filled < bar ? 1 : 0), ' ') + "] ";
    }
  }
  std::string label = label_;
  const std::size_t room =
      width > middle.size() + right.size() + 3 ? width - middle.size() - right.size() - 3 : 8;
  if (label.size() > room) label = "..." + label.substr(label.size() - room + 3);
  std::fprintf(stderr, "\r\033[K%s  %s%s", label.c_str(), middle.c_str(), right.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace ferry::app
