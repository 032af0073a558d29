#include "core/printable.hpp"

#include <gtest/gtest.h>

namespace ferry::test {
namespace {

TEST(Printable, EscapesWhatCouldForgeOrGarbleALogLine) {
  EXPECT_EQ(printable("alice"), "alice");
  EXPECT_EQ(printable("a\nb\r\tc"), "a\\nb\\r\\tc");
  EXPECT_EQ(printable("\x1b[2J"), "\\x1b[2J");
  EXPECT_EQ(printable("back\\slash"), "back\\\\slash");
  EXPECT_EQ(printable("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(printable("a\xe2\x80\xa8"
                      "b"),
            "a\\xe2\\x80\\xa8"
            "b");  // U+2028 LINE SEPARATOR
  EXPECT_EQ(printable("\xe2\x80\xae"
                      "evil"),
            "\\xe2\\x80\\xae"
            "evil");  // U+202E RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(printable(std::string("nul\0x", 5)), "nul\\x00x");
  EXPECT_EQ(printable("\x7f"), "\\x7f");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");  // UTF-8 kept
  EXPECT_EQ(printable("\xc2\x85next"), "\\xc2\\x85next");                        // C1 NEL escaped
  EXPECT_EQ(printable("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(printable("\xe2\x82"), "\\xe2\\x82");  // a sequence cut short
}

TEST(Printable, CutsLongTextAndSaysHowMuchWasLeftOut) {
  const std::string long_name(60000, 'x');
  const auto p = printable(long_name, 100);
  EXPECT_EQ(p, std::string(100, 'x') + "...(+59900 bytes)");
  // A multi-byte character cut at the limit is escaped, not split into invalid UTF-8.
  EXPECT_EQ(printable("ab\xc3\xa9", 3), "ab\\xc3...(+1 bytes)");
}

TEST(RateLimit, AllowsABurstThenTheRateAndCountsWhatItRefused) {
  using std::chrono::milliseconds;
  RateLimit r(10, 3);
  const RateLimit::TimePoint t{std::chrono::seconds(50)};
  EXPECT_TRUE(r.allow(t));
  EXPECT_TRUE(r.allow(t));
  EXPECT_TRUE(r.allow(t));
  EXPECT_FALSE(r.allow(t));
  EXPECT_FALSE(r.allow(t + milliseconds(50)));
  EXPECT_TRUE(r.allow(t + milliseconds(100)));  // one token per 100 ms
  EXPECT_EQ(r.take_suppressed(), 2U);
  EXPECT_EQ(r.take_suppressed(), 0U);
  int allowed = 0;
  for (int i = 0; i < 1000; ++i) allowed += r.allow(t + milliseconds(200 + i)) ? 1 : 0;
  EXPECT_LE(allowed, 3 + 11);  // a second's worth at most, plus the burst
}

}  // namespace
}  // namespace ferry::test
