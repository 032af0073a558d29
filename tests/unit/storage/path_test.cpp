#include "storage/path.hpp"

#include <gtest/gtest.h>

namespace ferry::test {
namespace {

using storage::Errc;

TEST(PathCheck, RefusesWhatNoPathMayContain) {
  const storage::PathPolicy bytes{}, utf8{.require_utf8 = true};
  EXPECT_EQ(storage::check_path("", bytes).error().code, Errc::invalid_name);
  EXPECT_EQ(storage::check_path(std::string("a\0b", 3), bytes).error().sys_errno, EINVAL);
  EXPECT_EQ(storage::check_path(std::string(256, 'x'), bytes).error().code, Errc::name_too_long);
  EXPECT_TRUE(storage::check_path(std::string(255, 'x'), bytes));
  EXPECT_EQ(storage::check_path(std::string(4096, '/'), bytes).error().code, Errc::name_too_long);
  EXPECT_TRUE(storage::check_path("caf\xc3\xa9", utf8));
  EXPECT_TRUE(storage::check_path("\xff", bytes)) << "bbftp paths are bytes";
  EXPECT_EQ(storage::check_path("\xff", utf8).error().sys_errno, EILSEQ);
  EXPECT_TRUE(storage::check_path("../..", bytes)) << ".. is the resolver's business";
}

TEST(PathComponents, DropEmptyAndDotKeepDotDot) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(storage::components("/a//b/./c/"), (V{"a", "b", "c"}));
  EXPECT_EQ(storage::components("../x/.."), (V{"..", "x", ".."}));
  EXPECT_TRUE(storage::components("///").empty());
}

TEST(PathSplit, ParentAndLeaf) {
  auto s = storage::split_parent("a/b/c");
  EXPECT_EQ(s.parent, "a/b");
  EXPECT_EQ(s.leaf, "c");
  s = storage::split_parent("c");
  EXPECT_EQ(s.parent, "");
  EXPECT_EQ(s.leaf, "c");
  s = storage::split_parent("/c/");
  EXPECT_EQ(s.parent, "/");
  EXPECT_EQ(s.leaf, "c");
}

TEST(PathNormalize, LexicalAbsolute) {
  EXPECT_EQ(storage::normalize_absolute("/a/./b/../c"), "/a/c");
  EXPECT_EQ(storage::normalize_absolute("/../.."), "/");
  EXPECT_EQ(storage::normalize_absolute(""), "/");
  EXPECT_EQ(storage::join("/base", "rel"), "/base/rel");
  EXPECT_EQ(storage::join("/base/", "/abs"), "/abs");
}

}  // namespace
}  // namespace ferry::test
