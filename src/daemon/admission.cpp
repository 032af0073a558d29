#include "daemon/admission.hpp"

#include <algorithm>
#include <vector>

namespace ferry::daemon {

Admitted Admission::on_connect(const std::string& source, Clock::time_point now) {
  PerSource& here = per_source_[source];
  auto refuse = [&](Verdict v, const char* why) -> Admitted {
    if (refusing_ >= limits_.max_refusing || here.refusing >= limits_.max_refusing_per_source) {
      if (here.prelogin == 0 && here.refusing == 0) per_source_.erase(source);
      return {Verdict::drop, why, {}, {}};
    }
    ++refusing_;
    ++here.refusing;
    return {v, why, {}, {}};
  };
  if (banned(source, now)) return refuse(Verdict::banned, "too many failed logins");
  if (here.prelogin >= limits_.max_prelogin_per_source) {
    return refuse(Verdict::busy, "too many connections not logged in from this address");
  }
  if (sessions_ >= limits_.max_sessions) return refuse(Verdict::busy, "too many sessions");
  std::string evict;
  if (prelogin_ >= limits_.max_prelogin) {
    // Full: make room by closing a connection of the source holding the most slots, when it
    // holds more than this one would; only a few such evictions may be under way at once.
    constexpr int kMaxEvicting = 16;
    evict = heaviest_other_than(source);
    if (evict.empty() || evicting_ >= kMaxEvicting) {
      return refuse(Verdict::busy, "too many connections not logged in");
    }
  }
  if (!take_admission(source, now)) {
    return refuse(Verdict::busy, "connecting too often from this address");
  }
  if (!evict.empty()) {
    ++evicting_;
    ++per_source_[evict].evicting;
  }
  ++prelogin_;
  ++here.prelogin;
  return {Verdict::admit, "", failure_delay(source, now), std::move(evict)};
}

std::string Admission::heaviest_other_than(const std::string& source) const {
  const int mine = prelogin_of(source);
  std::string best;
  int most = mine + 1;  // evict only from a source that would still hold more than this one
  for (const auto& [s, p] : per_source_) {
    const int left = p.prelogin - p.evicting;  // those already being closed do not count
    if (left > most) {
      most = left;
      best = s;
    }
  }
  return best;
}

bool Admission::take_admission(const std::string& source, Clock::time_point now) {
  auto [it, fresh] = rates_.try_emplace(source, Rate{limits_.admission_burst, now});
  Rate& r = it->second;
  if (!fresh) {
    const double elapsed = std::chrono::duration<double>(now - r.last).count();
    if (elapsed > 0)
      r.tokens =
          std::min(limits_.admission_burst, r.tokens + elapsed * limits_.admissions_per_second);
    r.last = now;
  }
  if (r.tokens < 1.0) return false;
  r.tokens -= 1.0;
  // Bounded memory: a bucket that has refilled tells nothing; forget those when there are many.
  if (rates_.size() > limits_.max_tracked_sources) {
    const double full_after =
        limits_.admission_burst / std::max(limits_.admissions_per_second, 1e-3);
    std::erase_if(rates_, [&](const auto& kv) {
      return std::chrono::duration<double>(now - kv.second.last).count() > full_after;
    });
    while (rates_.size() > limits_.max_tracked_sources) rates_.erase(rates_.begin());
  }
  return true;
}

void Admission::eviction_failed(const std::string& evicted, const std::string& source) {
  if (evicting_ > 0) --evicting_;
  if (auto it = per_source_.find(evicted); it != per_source_.end() && it->second.evicting > 0) {
    --it->second.evicting;
  }
  closed(source, false);
}

void Admission::release(const std::string& source, int PerSource::*field) {
  auto it = per_source_.find(source);
  if (it == per_source_.end()) return;
  if (it->second.*field > 0) --(it->second.*field);
  if (it->second.prelogin == 0 && it->second.refusing == 0) per_source_.erase(it);
}

void Admission::refusal_done(const std::string& source) {
  if (refusing_ > 0) --refusing_;
  release(source, &PerSource::refusing);
}

bool Admission::claim_session(const std::string& source) {
  if (sessions_ >= limits_.max_sessions) return false;
  ++sessions_;
  if (prelogin_ > 0) --prelogin_;
  release(source, &PerSource::prelogin);
  // The rate limit is for connections that never log in; one that did gives its admission back,
  // so a user who runs one short transfer after another is never told the server is busy.
  if (auto it = rates_.find(source); it != rates_.end()) {
    it->second.tokens = std::min(limits_.admission_burst, it->second.tokens + 1.0);
  }
  return true;
}

void Admission::closed(const std::string& source, bool was_session, bool evicted) {
  if (evicted) {
    if (evicting_ > 0) --evicting_;
    if (auto it = per_source_.find(source); it != per_source_.end() && it->second.evicting > 0) {
      --it->second.evicting;
    }
  }
  if (was_session) {
    if (sessions_ > 0) --sessions_;
    return;
  }
  if (prelogin_ > 0) --prelogin_;
  release(source, &PerSource::prelogin);
}

int Admission::prelogin_of(const std::string& source) const {
  const auto it = per_source_.find(source);
  return it == per_source_.end() ? 0 : it->second.prelogin;
}

int Admission::failures_of(const std::string& source, Clock::time_point now) {
  auto it = failures_.find(source);
  if (it == failures_.end()) return 0;
  if (now - it->second.last > std::max<Clock::duration>(limits_.forget_after, limits_.ban_for)) {
    failures_.erase(it);
    return 0;
  }
  return it->second.count;
}

void Admission::login_failed(const std::string& source, Clock::time_point now) {
  const int before = failures_of(source, now);
  if (before == 0) make_room(now);
  Failures& f = failures_[source];
  f.count = before + 1;
  f.last = now;
}

Millis Admission::failure_delay(const std::string& source, Clock::time_point now) {
  const int n = failures_of(source, now);
  if (n == 0 || limits_.first_delay.count() <= 0) return Millis(0);
  Millis d = limits_.first_delay;
  for (int i = 1; i < n && d < limits_.max_delay; ++i) d *= 2;
  return std::min(d, limits_.max_delay);
}

bool Admission::banned(const std::string& source, Clock::time_point now) {
  const int n = failures_of(source, now);
  if (n < limits_.ban_after) return false;
  return now - failures_.at(source).last < limits_.ban_for;
}

// Bounded memory for failures: past the cap, an eighth of the entries go at once, the oldest
// first and banned sources last (so that a flood of new addresses cannot lift a ban).
void Admission::make_room(Clock::time_point now) {
  if (failures_.size() < limits_.max_tracked_sources) return;
  const auto keep = std::max<Clock::duration>(limits_.forget_after, limits_.ban_for);
  std::erase_if(failures_, [&](const auto& kv) { return now - kv.second.last > keep; });
  if (failures_.size() < limits_.max_tracked_sources) return;
  std::vector<std::pair<std::pair<bool, Clock::time_point>, std::string>> order;
  order.reserve(failures_.size());
  for (const auto& [source, f] : failures_) {
    order.push_back({{f.count >= limits_.ban_after, f.last}, source});
  }
  const std::size_t drop = std::max<std::size_t>(1, order.size() / 8);
  std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(drop - 1),
                   order.end());
  for (std::size_t i = 0; i < drop; ++i) failures_.erase(order[i].second);
}

}  // namespace ferry::daemon
