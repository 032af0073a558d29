// The pure half of a legacy-mode XFTP server (spec section 3): which requests are acceptable, and
// the memory that makes a repeated request harmless. No sockets, no files, no clock: time comes in
// as an argument.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.hpp"
#include "proto/xftp/legacy.hpp"

namespace ferry::xftp {

// The spec's path rule: UTF-8, no NUL, no ".." component at all (stricter than the storage layer,
// on purpose). Leading slashes mean the root; "/" is the root itself.
bool acceptable_path(std::string_view path) noexcept;

struct Request {
  Command command = Command::nothing;
  std::string path;  // MOVE: the source
  std::string to;    // MOVE: the destination
};

// A request datagram as something to execute, or the status to refuse it with (INVALID: unknown
// command, bad path, malformed MOVE).
Result<Request, Status> classify(const Datagram& request);

// The reply to `request` with `status` (CMD and ID echoed) and `data`.
std::vector<std::uint8_t> reply_to(const Datagram& request, Status status, std::string data = {});

// Remembers requests other than LIST for `window` so that a repeated one (same source, ID, CMD
// and DATA) is answered with the first reply and never executed twice. Bounded: past `capacity`
// the oldest entries are forgotten first.
class DuplicateFilter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit DuplicateFilter(std::chrono::seconds window, std::size_t capacity = 65536)
      : window_(window), capacity_(capacity) {}

  enum class Seen {
    fresh,        // not seen: the caller executes it and calls finish() (or forget())
    in_progress,  // seen, not answered yet: drop the copy, the first one's reply is on its way
    answered,     // seen and answered: send `reply` again
  };
  struct Lookup {
    Seen seen = Seen::fresh;
    std::vector<std::uint8_t> reply;
  };
  static std::string key(std::string_view source, const Datagram& request);
  // LIST is never remembered (always fresh): it is read-only and answered afresh.
  Lookup begin(const std::string& key, const Datagram& request, TimePoint now);
  void finish(const std::string& key, std::vector<std::uint8_t> reply);
  // Forget a request that was refused for a passing reason (busy), so a retry may succeed.
  void forget(const std::string& key);
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  void expire(TimePoint now);
  void drop_oldest();
  struct Entry {
    bool answered = false;
    std::vector<std::uint8_t> reply;
    TimePoint at;
  };
  std::chrono::seconds window_;
  std::size_t capacity_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::pair<TimePoint, std::string>> order_;  // oldest first
};

}  // namespace ferry::xftp
