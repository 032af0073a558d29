#include "proto/bbftp/transfer_plan.hpp"

#include <algorithm>

namespace ferry::bbftp {

Segment segment_of(std::uint64_t size, int streams, int index) noexcept {
  const auto n = static_cast<std::uint64_t>(std::max(streams, 1));
  const std::uint64_t per = size / n;
  const auto i = static_cast<std::uint64_t>(index);
  return {i * per, i + 1 == n ? size - per * (n - 1) : per};
}

int streams_for(std::int64_t size, int requested, int buffer_kb, int max_streams) noexcept {
  const std::int64_t block = std::int64_t{std::max(buffer_kb, 1)} * 1024;
  const std::int64_t by_size = size / block;
  return static_cast<int>(
      std::max<std::int64_t>(1, std::min<std::int64_t>({requested, by_size, max_streams})));
}

TransferPlan plan_transfer(std::uint64_t size, int streams, int buffer_kb,
                           std::uint32_t transferoption, std::size_t block_bytes) {
  TransferPlan p;
  p.size = size;
  const int n = std::max(streams, 1);
  for (int i = 0; i < n; ++i) p.segments.push_back(segment_of(size, n, i));
  p.block_bytes =
      block_bytes != 0 ? block_bytes : static_cast<std::size_t>(std::max(buffer_kb, 1)) * 1024;
  p.compressed = (transferoption & tropt::kGzip) != 0;
  p.qbss = (transferoption & tropt::kQbss) != 0;
  return p;
}

void plan_blocks(TransferPlan& plan, std::uint64_t block, const std::vector<Segment>& present) {
  plan.integrity_block = block;
  const std::size_t n = std::max<std::size_t>(plan.segments.size(), 1);
  const std::uint64_t total = block == 0 ? 0 : (plan.size + block - 1) / block;
  std::vector<std::uint64_t> missing;
  std::size_t r = 0;
  for (std::uint64_t b = 0; b < total; ++b) {
    const std::uint64_t at = b * block;
    while (r < present.size() && present[r].offset + present[r].length <= at) ++r;
    if (r < present.size() && present[r].offset <= at) continue;
    missing.push_back(b);
  }
  plan.blocks.assign(n, {});
  const std::size_t per = missing.size() / n, extra = missing.size() % n;
  std::size_t next = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t take = per + (i < extra ? 1 : 0);
    plan.blocks[i].assign(missing.begin() + static_cast<std::ptrdiff_t>(next),
                          missing.begin() + static_cast<std::ptrdiff_t>(next + take));
    next += take;
  }
}

std::uint64_t TransferPlan::planned_bytes() const noexcept {
  if (integrity_block == 0) return size;
  std::uint64_t n = 0;
  for (const auto& stream : blocks) {
    for (const auto b : stream) n += std::min(integrity_block, size - b * integrity_block);
  }
  return n;
}

}  // namespace ferry::bbftp
