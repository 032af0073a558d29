#include <gtest/gtest.h>

#include <random>
#include <set>

#include "proto/xftp/range_set.hpp"

namespace ferry::test {
namespace {

using xftp::Range;
using xftp::RangeSet;

TEST(XftpRangeSet, MergesAndCounts) {
  RangeSet s;
  EXPECT_EQ(s.add(10, 20), 10u);
  EXPECT_EQ(s.add(30, 40), 10u);
  EXPECT_EQ(s.add(15, 35), 10u);  // fills 20..30
  EXPECT_EQ(s.ascending(), (std::vector<Range>{{10, 40}}));
  EXPECT_EQ(s.add(40, 41), 1u);  // touching: merged
  EXPECT_EQ(s.ranges(), 1u);
  EXPECT_EQ(s.add(12, 13), 0u);
  EXPECT_EQ(s.add(5, 5), 0u);
  EXPECT_EQ(s.count(), 31u);
  EXPECT_TRUE(s.contains(10, 41));
  EXPECT_FALSE(s.contains(9, 11));
  EXPECT_EQ(s.end_of_run(10), 41u);
  EXPECT_EQ(s.end_of_run(0), 0u);
  EXPECT_EQ(s.missing(0, 50), (std::vector<Range>{{0, 10}, {41, 50}}));
  s.add(0, 5);
  EXPECT_EQ(s.descending(1), (std::vector<Range>{{10, 41}}));
  s.keep_highest(1);
  EXPECT_EQ(s.ascending(), (std::vector<Range>{{10, 41}}));
  EXPECT_EQ(s.count(), 31u);
}

// Against a plain set of numbers, with random ranges.
TEST(XftpRangeSet, AgreesWithASetOfNumbers) {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    RangeSet s;
    std::set<std::uint64_t> plain;
    for (int i = 0; i < 40; ++i) {
      const std::uint64_t a = rng() % 500, n = rng() % 30;
      std::uint64_t added = 0;
      for (auto k = a; k < a + n; ++k) added += plain.insert(k).second ? 1 : 0;
      EXPECT_EQ(s.add(a, a + n), added);
    }
    EXPECT_EQ(s.count(), plain.size());
    std::uint64_t missing = 0;
    for (const auto& r : s.missing(0, 600)) missing += r.size();
    EXPECT_EQ(missing, 600 - plain.size());
    for (std::uint64_t k = 0; k < 600; ++k) EXPECT_EQ(s.contains(k), plain.count(k) == 1) << k;
  }
}

}  // namespace
}  // namespace ferry::test
