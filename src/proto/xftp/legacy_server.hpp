// The pure half of a legacy-mode XFTP server (spec section 3): which requests are acceptable, and
// the memory that makes a repeated request harmless. No sockets, no files, no clock: time comes in
// as an argument.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <set>
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
// command, bad path, malformed MOVE, longer than a legacy datagram).
Result<Request, Status> classify(const Datagram& request);

// The reply to `request` with `status` (CMD and ID echoed) and `data`.
std::vector<std::uint8_t> reply_to(const Datagram& request, Status status, std::string data = {});

// Remembers requests other than LIST for `window` so that a repeated one (same source address
// and port, ID, CMD and DATA) is answered with the first reply and never executed twice.
//
// Bounded in bytes, whatever the requests carry: an entry keeps a keyed 128-bit digest of ID, CMD
// and DATA (never the data itself) and the reply, which for these commands is a few bytes. A
// source host may hold at most `per_source_bytes` of the memory: a request beyond is refused as
// busy (over_budget) rather than remembered partially, because forgetting an entry early could
// let its repeat run twice. When all hosts together hold `budget_bytes`, the host holding the
// most gives up its oldest entries to one holding less (UDP sources are easily forged: many
// hosts at their share must not keep every other client out); a request from the heaviest host
// itself is refused as busy.
class DuplicateFilter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Limits {
    std::chrono::seconds window{35};
    std::size_t budget_bytes = 16U << 20;
    std::size_t per_source_bytes = 1U << 20;
  };
  // `seed` keys the digest (the daemon draws it at random), so nobody can craft two requests
  // that collide.
  DuplicateFilter(Limits limits, std::uint64_t seed) : limits_(limits), seed_(seed) {}

  enum class Seen {
    fresh,        // not seen: the caller executes it and calls finish() (or forget())
    in_progress,  // seen, not answered yet: drop the copy, the first one's reply is on its way
    answered,     // seen and answered: send `reply` again
    over_budget,  // not remembered (this source, or everyone, holds too much): refuse as busy
  };
  struct Lookup {
    Seen seen = Seen::fresh;
    std::vector<std::uint8_t> reply;
  };
  struct Key {
    std::string host;  // the share is per host: a client changes ports at will
    std::string id;    // endpoint + digest: what identifies the request
  };
  Key key(std::string_view host, std::string_view endpoint, const Datagram& request) const;
  // Looks the request up without remembering it. LIST is always fresh: it is read-only and
  // answered afresh, never remembered.
  Lookup check(const Key& key, const Datagram& request, TimePoint now);
  // Remembers a fresh request as in progress (call after check() said fresh, once the caller
  // knows it will execute it). False when there was no room after all (refuse it as busy).
  bool remember(const Key& key, TimePoint now);
  // check() and, when fresh, remember().
  Lookup begin(const Key& key, const Datagram& request, TimePoint now);
  // The request was answered at `now`: repeats get `reply` for `window` from now (a client
  // repeats after it stops waiting, which counts from the reply, not from the first copy).
  // Replies longer than kMaxRemembered bytes are not kept (none of these commands has one).
  void finish(const Key& key, std::vector<std::uint8_t> reply, TimePoint now);
  // Forget a request that was refused for a passing reason, so a retry may run.
  void forget(const Key& key);
  std::size_t size() const noexcept { return entries_.size(); }
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t bytes_of(const std::string& host) const;

  static constexpr std::size_t kMaxRemembered = 64;
  // What an entry costs beyond its key and reply: map node, queue slot, allocator slack.
  static constexpr std::size_t kEntryOverhead = 160;
  // What a host's own record costs: its map and set nodes and its queue's first block.
  static constexpr std::size_t kHostOverhead = 1024;

 private:
  struct Entry {
    std::string host;
    bool answered = false;
    std::vector<std::uint8_t> reply;
    TimePoint at;
    std::size_t cost = 0;
  };
  struct Host {
    std::size_t bytes = 0;     // its entries' cost (its own record's comes on top)
    std::size_t answered = 0;  // of its entries, those answered (the only ones it can give up)
    std::deque<std::pair<TimePoint, std::string>> order;  // its entries, oldest first
  };
  void compact();
  static std::size_t cost_of(const Key& key);
  void expire(TimePoint now);
  void erase(std::unordered_map<std::string, Entry>::iterator it);
  void set_bytes(const std::string& host, Host& h, std::size_t bytes);
  // The host holding the most among those that can give up an entry, when it holds more than
  // `than` (else null).
  const std::string* heaviest(std::size_t than) const;
  // Drops the oldest answered entry of `host` (one still being carried out must stay, or its
  // repeat would run beside it); false when it has none.
  bool evict_oldest(const std::string& host);
  Limits limits_;
  std::uint64_t seed_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::pair<TimePoint, std::string>> order_;  // oldest first
  std::unordered_map<std::string, Host> per_host_;
  std::set<std::pair<std::size_t, std::string>> by_bytes_;  // hosts by what they hold
  std::size_t bytes_ = 0;
};

}  // namespace ferry::xftp
