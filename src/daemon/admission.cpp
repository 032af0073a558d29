#include "daemon/admission.hpp"

#include <algorithm>

namespace ferry::daemon {

Admitted Admission::on_connect(const std::string& source, Clock::time_point now) {
  PerSource& here = per_source_[source];
  auto refuse = [&](Verdict v, const char* why) -> Admitted {
    if (refusing_ >= limits_.max_refusing || here.refusing >= limits_.max_refusing_per_source) {
      if (here.prelogin == 0 && here.refusing == 0) per_source_.erase(source);
      return {Verdict::drop, why, {}};
    }
    ++refusing_;
    ++here.refusing;
    return {v, why, {}};
  };
  if (banned(source, now)) return refuse(Verdict::banned, "too many failed logins");
  if (here.prelogin >= limits_.max_prelogin_per_source) {
    return refuse(Verdict::busy, "too many connections not logged in from this address");
  }
  if (prelogin_ >= limits_.max_prelogin) {
    return refuse(Verdict::busy, "too many connections not logged in");
  }
  if (sessions_ >= limits_.max_sessions) return refuse(Verdict::busy, "too many sessions");
  ++prelogin_;
  ++here.prelogin;
  return {Verdict::admit, "", failure_delay(source, now)};
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
  return true;
}

void Admission::closed(const std::string& source, bool was_session) {
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
  if (n == 0) return Millis(0);
  Millis d = limits_.first_delay;
  for (int i = 1; i < n && d < limits_.max_delay; ++i) d *= 2;
  return std::min(d, limits_.max_delay);
}

bool Admission::banned(const std::string& source, Clock::time_point now) {
  const int n = failures_of(source, now);
  if (n < limits_.ban_after) return false;
  return now - failures_.at(source).last < limits_.ban_for;
}

// Bounded memory for failures: past the cap, the sources forgotten longest ago go first.
void Admission::make_room(Clock::time_point now) {
  if (failures_.size() < limits_.max_tracked_sources) return;
  const auto keep = std::max<Clock::duration>(limits_.forget_after, limits_.ban_for);
  std::erase_if(failures_, [&](const auto& kv) { return now - kv.second.last > keep; });
  while (failures_.size() >= limits_.max_tracked_sources) {
    auto oldest = std::min_element(
        failures_.begin(), failures_.end(),
        [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
    failures_.erase(oldest);
  }
}

}  // namespace ferry::daemon
