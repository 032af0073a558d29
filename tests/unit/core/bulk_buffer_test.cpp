#include "core/bulk_buffer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>

namespace ferry {
namespace {

std::uintptr_t offset_in_page(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % BulkBuffer::kPage;
}

TEST(BulkBuffer, StartsHalfAPagePastAPageBoundaryWhateverItsSize) {
  // The kernel's copies slow down near a page's edges (bulk_buffer.hpp): a vector of 1 MiB sits
  // 16 bytes past one, which is what this type exists to avoid.
  for (const std::size_t size :
       {std::size_t{1}, std::size_t{64} << 10, std::size_t{1} << 20, (std::size_t{4} << 20) + 32}) {
    BulkBuffer b(size);
    EXPECT_EQ(offset_in_page(b.data()), BulkBuffer::kOffset) << size;
    ASSERT_EQ(b.size(), size);
    b.data()[0] = std::byte{1};
    b.data()[size - 1] = std::byte{2};  // the whole size is usable
    EXPECT_EQ(b.span().size(), size);
  }
}

TEST(BulkBuffer, AMovedFromBufferIsEmpty) {
  BulkBuffer a(4096);
  std::byte* const at = a.data();
  BulkBuffer b(std::move(a));
  EXPECT_EQ(b.data(), at);
  EXPECT_EQ(b.size(), 4096u);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the state after a move is the point
  EXPECT_EQ(a.data(), nullptr);
  BulkBuffer c;
  c = std::move(b);
  EXPECT_EQ(c.data(), at);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(BulkBuffer().span().empty());
}

}  // namespace
}  // namespace ferry
