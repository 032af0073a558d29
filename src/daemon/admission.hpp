// Who may come in, decided before a byte of theirs is read: the listener's bookkeeping of
// connections that have not logged in yet (pre-login), of sessions, and of failed logins per
// source address. Pure: addresses are strings, time comes in as an argument, so tests assert the
// decisions rather than wall-clock time.
//
// Pre-login connections have caps of their own, in total and per source, apart from the session
// cap: idle strangers can no longer take the places of users who log in. Failed logins make a
// source wait longer before its next answer, and past a threshold it is banned for a while.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ferry::daemon {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

struct AdmissionLimits {
  int max_prelogin = 64;            // connections not logged in yet, in all
  int max_prelogin_per_source = 8;  // ... from one address
  int max_sessions = 64;            // logged-in sessions
  // Refusals being delivered at once: each is a socket and a few hundred bytes, no process, so
  // a burst of hundreds of clients beyond the caps is told "busy" rather than cut off.
  int max_refusing = 1024;
  int max_refusing_per_source = 16;  // ... to one address; beyond, connections are just closed
  // Admissions per second from one address, in bursts of `admission_burst` (each costs a process
  // and a key): a source that connects and closes in a loop cannot burn the CPU. A connection
  // that logs in gives its admission back (claim_session).
  double admissions_per_second = 8;
  double admission_burst = 32;
  // After the n-th failed login from a source, its next failure is answered after
  // min(first_delay * 2^(n-1), max_delay): guessing slows down at once.
  Millis first_delay{500};
  Millis max_delay{8000};
  int ban_after = 20;                      // failures that ban a source ...
  std::chrono::seconds ban_for{600};       // ... for this long after its last failure
  std::chrono::seconds forget_after{900};  // a source's failures are forgotten after this
  std::size_t max_tracked_sources = 65536;
};

enum class Verdict {
  admit,   // a pre-login slot is taken: serve the connection
  busy,    // refuse with MSG_BAD (the client retries later)
  banned,  // refuse with MSG_BAD_NO_RETRY
  drop,    // too many refusals under way already: close without a word
};

struct Admitted {
  Verdict verdict = Verdict::drop;
  const char* why = "";    // for the log line: which limit
  Millis failure_delay{};  // admit: how long a failed login from here waits before its answer
  // admit while every pre-login slot is taken: close the oldest pre-login connection of this
  // source, the one holding the most slots (a few sources cannot keep everyone else out).
  std::string evict;
};

class Admission {
 public:
  explicit Admission(AdmissionLimits limits) : limits_(limits) {}

  // A connection from `source` arrived. admit takes a pre-login slot, busy and banned a refusal
  // slot (until refusal_done), drop nothing.
  Admitted on_connect(const std::string& source, Clock::time_point now);
  void refusal_done(const std::string& source);
  // The pre-login connection from `source` logged in: true when a session slot was free (taken
  // now; its pre-login slot is released), false when the sessions are full (it stays pre-login
  // until it closes).
  bool claim_session(const std::string& source);
  // A login from `source` failed (counts toward its delay and ban).
  void login_failed(const std::string& source, Clock::time_point now);
  // A served connection ended (pre-login or session, as it was; evicted: closed to make room
  // for an admission, see Admitted::evict).
  void closed(const std::string& source, bool was_session, bool evicted = false);
  // The listener found no connection of `evicted` left to close for the admission of `source`:
  // that admission is undone (the listener closes the newcomer).
  void eviction_failed(const std::string& evicted, const std::string& source);

  int prelogin() const noexcept { return prelogin_; }
  int prelogin_of(const std::string& source) const;
  int sessions() const noexcept { return sessions_; }
  int refusing() const noexcept { return refusing_; }
  // The delay a failed login from `source` would wait now, and whether it is banned.
  Millis failure_delay(const std::string& source, Clock::time_point now);
  bool banned(const std::string& source, Clock::time_point now);
  std::size_t tracked_sources() const noexcept { return failures_.size(); }

 private:
  struct Failures {
    int count = 0;
    Clock::time_point last{};
  };
  struct PerSource {
    int prelogin = 0;
    int refusing = 0;
    int evicting = 0;  // of its pre-login connections, those being closed to make room
  };
  struct Rate {
    double tokens = 0;
    Clock::time_point last{};
  };
  bool take_admission(const std::string& source, Clock::time_point now);
  std::string heaviest_other_than(const std::string& source) const;
  int failures_of(const std::string& source, Clock::time_point now);
  void make_room(Clock::time_point now);
  void release(const std::string& source, int PerSource::*field);

  AdmissionLimits limits_;
  int prelogin_ = 0;
  int sessions_ = 0;
  int refusing_ = 0;
  std::unordered_map<std::string, PerSource> per_source_;
  std::unordered_map<std::string, Failures> failures_;
  std::unordered_map<std::string, Rate> rates_;
  int evicting_ = 0;  // admitted over the cap, their evictions not reaped yet
};

}  // namespace ferry::daemon
