#include "core/result.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace ferry {
namespace {

enum class E { bad, worse };

Result<int, E> half(int x) {
  if (x % 2 != 0) return Unexpected(E::bad);
  return x / 2;
}

TEST(Result, ValueAndError) {
  auto ok = half(8);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 4);
  auto bad = half(3);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), E::bad);
  EXPECT_EQ(bad.value_or(-1), -1);
}

TEST(Result, MoveOnlyValuesAndVoid) {
  Result<std::unique_ptr<int>, std::string> p = std::make_unique<int>(7);
  ASSERT_TRUE(p);
  auto owned = std::move(p).value();
  EXPECT_EQ(*owned, 7);
  Result<void, std::string> v;
  EXPECT_TRUE(v);
  Result<void, std::string> f = Unexpected(std::string("nope"));
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error(), "nope");
}

}  // namespace
}  // namespace ferry
