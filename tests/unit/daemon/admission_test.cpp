#include "daemon/admission.hpp"

#include <gtest/gtest.h>

namespace ferry::test {
namespace {

using daemon::Admission;
using daemon::AdmissionLimits;
using daemon::Clock;
using daemon::Millis;
using daemon::Verdict;
using std::chrono::seconds;

const Clock::time_point t0{seconds(100000)};

AdmissionLimits small() {
  AdmissionLimits l;
  l.max_prelogin = 5;
  l.max_prelogin_per_source = 2;
  l.max_sessions = 3;
  l.max_refusing = 4;
  l.max_refusing_per_source = 2;
  l.ban_after = 5;
  return l;
}

TEST(Admission, PreloginSlotsAreCappedPerSourceAndInAllApartFromSessions) {
  Admission a(small());
  EXPECT_EQ(a.on_connect("10.0.0.1", t0).verdict, Verdict::admit);
  EXPECT_EQ(a.on_connect("10.0.0.1", t0).verdict, Verdict::admit);
  auto third = a.on_connect("10.0.0.1", t0);
  EXPECT_EQ(third.verdict, Verdict::busy);
  EXPECT_STREQ(third.why, "too many connections not logged in from this address");
  EXPECT_EQ(a.on_connect("10.0.0.2", t0).verdict, Verdict::admit);
  EXPECT_EQ(a.on_connect("10.0.0.3", t0).verdict, Verdict::admit);
  EXPECT_EQ(a.on_connect("10.0.0.4", t0).verdict, Verdict::admit);
  EXPECT_EQ(a.prelogin(), 5);
  // Full: a newcomer gets in at the expense of the address holding the most slots ...
  auto newcomer = a.on_connect("10.0.0.5", t0);
  EXPECT_EQ(newcomer.verdict, Verdict::admit);
  EXPECT_EQ(newcomer.evict, "10.0.0.1");
  a.closed("10.0.0.1", false, true);  // the listener closed one of 10.0.0.1's
  // ... but not when everyone holds as little as it would.
  EXPECT_STREQ(a.on_connect("10.0.0.2", t0).why, "too many connections not logged in");
  // A login moves the connection from the pre-login slots to the sessions.
  EXPECT_TRUE(a.claim_session("10.0.0.1"));
  EXPECT_EQ(a.prelogin(), 4);
  EXPECT_EQ(a.prelogin_of("10.0.0.1"), 0);
  EXPECT_EQ(a.sessions(), 1);
  EXPECT_EQ(a.on_connect("10.0.0.1", t0).verdict, Verdict::admit);
}

TEST(Admission, EvictionsInFlightAreNotCountedTwiceAndAFailedOneIsUndone) {
  Admission a(small());  // 5 pre-login in all, 2 per source
  a.on_connect("heavy", t0);
  a.on_connect("heavy", t0);
  a.on_connect("b", t0);
  a.on_connect("c", t0);
  a.on_connect("d", t0);
  auto first = a.on_connect("e", t0);
  EXPECT_EQ(first.evict, "heavy");
  // heavy's slot being closed no longer counts: the next newcomer cannot pick it again.
  EXPECT_EQ(a.on_connect("f", t0).verdict, Verdict::busy);
  // The listener found nothing to close after all: e's admission is undone.
  a.eviction_failed("heavy", "e");
  EXPECT_EQ(a.prelogin(), 5);
  EXPECT_EQ(a.prelogin_of("e"), 0);
  auto again = a.on_connect("g", t0);
  EXPECT_EQ(again.evict, "heavy");
  a.closed("heavy", false, true);  // reaped
  EXPECT_EQ(a.prelogin(), 5);
  EXPECT_EQ(a.prelogin_of("heavy"), 1);
}

TEST(Admission, RefusalsAreBoundedTooThenConnectionsAreDropped) {
  Admission a(small());
  a.on_connect("s", t0);
  a.on_connect("s", t0);
  EXPECT_EQ(a.on_connect("s", t0).verdict, Verdict::busy);
  EXPECT_EQ(a.on_connect("s", t0).verdict, Verdict::busy);
  EXPECT_EQ(a.on_connect("s", t0).verdict, Verdict::drop);  // 2 refusals under way for s
  EXPECT_EQ(a.refusing(), 2);
  a.refusal_done("s");
  EXPECT_EQ(a.on_connect("s", t0).verdict, Verdict::busy);
}

TEST(Admission, FullSessionsRefuseNewConnectionsAndLateLogins) {
  Admission a(small());
  for (const char* s : {"a", "b", "c", "d"}) ASSERT_EQ(a.on_connect(s, t0).verdict, Verdict::admit);
  EXPECT_TRUE(a.claim_session("a"));
  EXPECT_TRUE(a.claim_session("b"));
  EXPECT_TRUE(a.claim_session("c"));
  EXPECT_FALSE(a.claim_session("d"));  // logged in, but no session slot: refused as busy
  EXPECT_STREQ(a.on_connect("e", t0).why, "too many sessions");
  a.closed("a", true);
  EXPECT_TRUE(a.claim_session("d"));
  a.closed("d", true);
  a.closed("b", true);
  a.closed("c", true);
  EXPECT_EQ(a.sessions(), 0);
  EXPECT_EQ(a.prelogin(), 0);
}

TEST(Admission, FailuresGrowTheDelayThenBanAndAreForgotten) {
  AdmissionLimits l = small();
  l.first_delay = Millis(500);
  l.max_delay = Millis(8000);
  l.ban_after = 7;
  l.ban_for = seconds(600);
  l.forget_after = seconds(900);
  Admission a(l);
  EXPECT_EQ(a.on_connect("x", t0).failure_delay, Millis(0));
  const Millis expected[] = {Millis(500),  Millis(1000), Millis(2000),
                             Millis(4000), Millis(8000), Millis(8000)};
  auto t = t0;
  for (Millis d : expected) {
    a.login_failed("x", t);
    t += seconds(1);
    EXPECT_EQ(a.failure_delay("x", t), d);
    EXPECT_FALSE(a.banned("x", t));
  }
  a.login_failed("x", t);  // the 7th
  EXPECT_TRUE(a.banned("x", t + seconds(599)));
  EXPECT_EQ(a.on_connect("x", t + seconds(10)).verdict, Verdict::banned);
  EXPECT_EQ(a.on_connect("y", t + seconds(10)).verdict, Verdict::admit);  // others are not
  EXPECT_FALSE(a.banned("x", t + seconds(601)));
  EXPECT_EQ(a.failure_delay("x", t + seconds(901)), Millis(0));
  EXPECT_EQ(a.tracked_sources(), 0U);
}

TEST(Admission, MemoryOfFailuresIsBounded) {
  AdmissionLimits l = small();
  l.max_tracked_sources = 100;
  Admission a(l);
  for (int i = 0; i < 1000; ++i) a.login_failed("10.1." + std::to_string(i), t0 + seconds(i));
  EXPECT_LE(a.tracked_sources(), 100U);
  EXPECT_GT(a.failure_delay("10.1.999", t0 + seconds(1000)), Millis(0));  // the newest kept
}

TEST(Admission, ASourceThatConnectsInALoopIsSlowedDown) {
  AdmissionLimits l = small();
  l.max_prelogin_per_source = 100;
  l.max_prelogin = 100;
  l.admissions_per_second = 2;
  l.admission_burst = 4;
  Admission a(l);
  int admitted = 0;
  for (int i = 0; i < 10; ++i) {  // connect and close at once, ten times in a row
    auto r = a.on_connect("loop", t0);
    if (r.verdict == Verdict::admit) {
      ++admitted;
      a.closed("loop", false);
    } else {
      EXPECT_STREQ(r.why, "connecting too often from this address");
      a.refusal_done("loop");
    }
  }
  EXPECT_EQ(admitted, 4);
  EXPECT_EQ(a.on_connect("other", t0).verdict, Verdict::admit);
  EXPECT_EQ(a.on_connect("loop", t0 + std::chrono::milliseconds(500)).verdict, Verdict::admit);
}

TEST(Admission, ConnectionsThatLogInDoNotCountTowardTheRateLimit) {
  AdmissionLimits l = small();
  l.admissions_per_second = 2;
  l.admission_burst = 4;
  l.max_sessions = 100;
  Admission a(l);
  for (int i = 0; i < 20; ++i) {  // twenty short sessions in a row, all at the same instant
    ASSERT_EQ(a.on_connect("user", t0).verdict, Verdict::admit) << "session " << i;
    ASSERT_TRUE(a.claim_session("user"));
    a.closed("user", true);
  }
  // Connections that do not log in still use the burst up, then are refused.
  int admitted = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = a.on_connect("user", t0);
    if (r.verdict == Verdict::admit) {
      ++admitted;
      a.closed("user", false);
    } else {
      a.refusal_done("user");
    }
  }
  EXPECT_EQ(admitted, 4);
}

TEST(Admission, ABanOutlivesAFloodOfNewAddresses) {
  AdmissionLimits l = small();
  l.max_tracked_sources = 64;
  l.ban_after = 3;
  Admission a(l);
  for (int i = 0; i < 3; ++i) a.login_failed("banned", t0);
  for (int i = 0; i < 1000; ++i) a.login_failed("new-" + std::to_string(i), t0 + seconds(1));
  EXPECT_LE(a.tracked_sources(), 64U);
  EXPECT_TRUE(a.banned("banned", t0 + seconds(2)));
}

}  // namespace
}  // namespace ferry::test
