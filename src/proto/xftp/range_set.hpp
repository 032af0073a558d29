// A set of half-open ranges [first, last) of unsigned 64-bit numbers, kept merged and sorted: the
// bytes of a file that arrived, the sequence numbers a receiver saw. Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace ferry::xftp {

struct Range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // one past the end
  std::uint64_t size() const noexcept { return last - first; }
  bool operator==(const Range&) const = default;
};

class RangeSet {
 public:
  // Adds [first, last); returns how many of its numbers were new.
  std::uint64_t add(std::uint64_t first, std::uint64_t last);
  void add(const Range& r) { add(r.first, r.last); }
  bool contains(std::uint64_t first, std::uint64_t last) const;
  bool contains(std::uint64_t n) const { return contains(n, n + 1); }
  // The parts of [first, last) that are not in the set, in order.
  std::vector<Range> missing(std::uint64_t first, std::uint64_t last) const;
  // Where the run that starts at `from` ends (`from` itself when `from` is not in the set).
  std::uint64_t end_of_run(std::uint64_t from) const;
  std::uint64_t count() const noexcept { return count_; }  // numbers in the set
  std::size_t ranges() const noexcept { return map_.size(); }
  bool empty() const noexcept { return map_.empty(); }
  // The ranges, lowest first, or highest first.
  std::vector<Range> ascending() const;
  std::vector<Range> descending(std::size_t at_most) const;
  // Forgets the lowest ranges until at most `keep` are left (a receiver's memory of old numbers).
  void keep_highest(std::size_t keep);
  bool operator==(const RangeSet& o) const { return map_ == o.map_; }

 private:
  std::map<std::uint64_t, std::uint64_t> map_;  // first -> last
  std::uint64_t count_ = 0;
};

}  // namespace ferry::xftp
