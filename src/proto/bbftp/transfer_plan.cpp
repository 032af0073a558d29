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

void align_segments(TransferPlan& plan, std::uint64_t align) {
  const auto n = static_cast<std::uint64_t>(plan.segments.size());
  if (n == 0 || align == 0) return;
  std::uint64_t per = (plan.size / n + align - 1) / align * align;
  if (per == 0) per = align;
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t first = std::min(i * per, plan.size);
    const std::uint64_t end = i + 1 == n ? plan.size : std::min((i + 1) * per, plan.size);
    plan.segments[i] = {first, end - first};
  }
}

}  // namespace ferry::bbftp
