#include "proto/xftp/range_set.hpp"

#include <algorithm>
#include <iterator>

namespace ferry::xftp {

std::uint64_t RangeSet::add(std::uint64_t first, std::uint64_t last) {
  if (first >= last) return 0;
  const std::uint64_t before = count_;
  // Merge with every range that touches or overlaps [first, last).
  auto it = map_.upper_bound(first);
  if (it != map_.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= first) it = prev;
  }
  while (it != map_.end() && it->first <= last) {
    first = std::min(first, it->first);
    last = std::max(last, it->second);
    count_ -= it->second - it->first;
    it = map_.erase(it);
  }
  map_.emplace(first, last);
  count_ += last - first;
  return count_ - before;
}

bool RangeSet::contains(std::uint64_t first, std::uint64_t last) const {
  if (first >= last) return true;
  auto it = map_.upper_bound(first);
  if (it == map_.begin()) return false;
  --it;
  return it->first <= first && it->second >= last;
}

std::vector<Range> RangeSet::missing(std::uint64_t first, std::uint64_t last) const {
  std::vector<Range> out;
  if (first >= last) return out;
  auto it = map_.upper_bound(first);
  if (it != map_.begin()) --it;
  std::uint64_t at = first;
  for (; it != map_.end() && it->first < last; ++it) {
    if (it->second <= at) continue;
    if (it->first > at) out.push_back({at, it->first});
    at = std::max(at, it->second);
    if (at >= last) break;
  }
  if (at < last) out.push_back({at, last});
  return out;
}

std::uint64_t RangeSet::end_of_run(std::uint64_t from) const {
  auto it = map_.upper_bound(from);
  if (it == map_.begin()) return from;
  --it;
  return it->second > from ? it->second : from;
}

std::vector<Range> RangeSet::ascending() const {
  std::vector<Range> out;
  out.reserve(map_.size());
  for (const auto& [f, l] : map_) out.push_back({f, l});
  return out;
}

std::vector<Range> RangeSet::descending(std::size_t at_most) const {
  std::vector<Range> out;
  for (auto it = map_.rbegin(); it != map_.rend() && out.size() < at_most; ++it) {
    out.push_back({it->first, it->second});
  }
  return out;
}

void RangeSet::keep_highest(std::size_t keep) {
  while (map_.size() > keep) {
    auto it = map_.begin();
    count_ -= it->second - it->first;
    map_.erase(it);
  }
}

}  // namespace ferry::xftp
