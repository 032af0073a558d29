#include "storage/partial.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <new>

#include "storage/atomic_writer.hpp"
#include "storage/path.hpp"

namespace ferry::storage {
namespace {

constexpr std::size_t kReadChunk = 1 << 20;

std::string base_of(std::string_view leaf) {
  // Both prefixes must fit with the leaf; longer leaves are named by their hash ('~' cannot
  // start a hashed form's clash: a real leaf of that shape is short enough to be used as is).
  if (kPartialPrefix.size() + leaf.size() <= kMaxNameBytes) return std::string(leaf);
  char buf[20];
  std::snprintf(buf, sizeof buf, "~%016llx",
                static_cast<unsigned long long>(XXH3_64bits(leaf.data(), leaf.size())));
  return buf;
}

}  // namespace

std::string partial_data_name(std::string_view leaf) {
  return std::string(kPartialPrefix) + base_of(leaf);
}

std::string partial_record_name(std::string_view leaf) {
  return std::string(kRangesPrefix) + base_of(leaf);
}

std::string record_name_of(std::string_view data_name) {
  if (!data_name.starts_with(kPartialPrefix) || data_name.size() == kPartialPrefix.size()) {
    return {};
  }
  return std::string(kRangesPrefix) + std::string(data_name.substr(kPartialPrefix.size()));
}

bool is_partial_name(std::string_view leaf) noexcept {
  return (leaf.starts_with(kPartialPrefix) && leaf.size() > kPartialPrefix.size()) ||
         (leaf.starts_with(kRangesPrefix) && leaf.size() > kRangesPrefix.size());
}

std::uint64_t VerifiedPartial::bytes() const noexcept {
  std::uint64_t n = 0;
  for (const auto& r : ranges) n += r.last - r.first;
  return n;
}

Result<VerifiedPartial> verify_partial(const File& file, const PartialRecord& record,
                                       std::size_t max_ranges) {
  VerifiedPartial v;
  std::vector<std::byte> buf(record.block_size);
  XXH3_state_t* range_state = XXH3_createState();
  if (range_state == nullptr) throw std::bad_alloc();
  struct Free {
    XXH3_state_t* s;
    ~Free() { XXH3_freeState(s); }
  } free_state{range_state};
  bool open = false;  // a range is being built
  auto close_range = [&] {
    if (open) v.range_sums.push_back(XXH3_64bits_digest(range_state));
    open = false;
  };
  for (const auto& [index, sum] : record.blocks) {
    const std::uint64_t first = record.block_first(index), last = record.block_last(index);
    auto read = file.pread_some({buf.data(), last - first}, first);
    if (!read) return Unexpected(read.error());
    if (*read != last - first ||
        XXH3_64bits(buf.data(), last - first) != sum) {  // changed, or cut short
      ++v.bad_blocks;
      close_range();
      continue;
    }
    const bool extends = open && v.ranges.back().last == first;
    if (!extends) {
      close_range();
      if (v.ranges.size() == max_ranges) continue;  // good, but not offered: sent again
      v.ranges.push_back({first, first});
      XXH3_64bits_reset(range_state);
      open = true;
    }
    v.ranges.back().last = last;
    XXH3_64bits_update(range_state, buf.data(), last - first);
    v.blocks.emplace(index, sum);
  }
  close_range();
  return v;
}

Result<ResumeFrom> resume_from(AtomicWriter& writer, std::uint64_t size, std::int64_t mtime,
                               const Checksum128& checksum, std::size_t max_ranges) {
  ResumeFrom r;
  r.base.size = size;
  r.base.mtime = mtime;
  r.base.checksum = checksum;
  r.base.block_size = partial_block_size(size);
  auto start_over = [&](std::string why) -> Result<ResumeFrom> {
    if (auto d = writer.discard_partial(); !d) return Unexpected(d.error());
    r.why = std::move(why);
    return std::move(r);
  };
  r.had_partial = writer.resume_size() > 0;
  if (!r.had_partial) return start_over("no partial data");
  if (max_ranges == 0) return start_over("not asked to resume");
  const auto bytes = writer.load_record();
  if (!bytes) return start_over("partial data without a record");
  auto record = decode_record(as_bytes(*bytes));
  if (!record) return start_over("a damaged record");
  if (!record->same_source(size, mtime, checksum) || record->block_size != r.base.block_size) {
    return start_over("partial data of another version of the file");
  }
  auto verified = verify_partial(writer.file(), *record, max_ranges);
  if (!verified) return Unexpected(verified.error());
  r.verified = std::move(*verified);
  r.base.blocks = r.verified.blocks;
  if (r.verified.ranges.empty()) r.why = "no block of the partial data verified";
  return r;
}

Result<void> save_checkpoint(const AtomicWriter& writer, PartialRecord base,
                             const std::map<std::uint64_t, std::uint64_t>& hashed) {
  for (const auto& [index, sum] : hashed) base.blocks[index] = sum;
  const auto bytes = encode_record(base);
  return writer.save_record(as_bytes(bytes));
}

Result<std::uint64_t> range_checksum(const File& file, std::uint64_t first, std::uint64_t last) {
  XXH3_state_t* s = XXH3_createState();
  if (s == nullptr) throw std::bad_alloc();
  struct Free {
    XXH3_state_t* s;
    ~Free() { XXH3_freeState(s); }
  } free_state{s};
  XXH3_64bits_reset(s);
  std::vector<std::byte> buf(kReadChunk);
  for (std::uint64_t at = first; at < last;) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), last - at));
    auto r = file.pread_exact({buf.data(), want}, at);
    if (!r) return Unexpected(r.error());
    XXH3_64bits_update(s, buf.data(), want);
    at += want;
  }
  return XXH3_64bits_digest(s);
}

struct InOrderHasher::State {
  XXH3_state_t* whole = XXH3_createState();
  XXH3_state_t* block = XXH3_createState();
  State() {
    if (whole == nullptr || block == nullptr) throw std::bad_alloc();
    XXH3_128bits_reset(whole);
    XXH3_64bits_reset(block);
  }
  ~State() {
    XXH3_freeState(whole);
    XXH3_freeState(block);
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
};

InOrderHasher::InOrderHasher(std::uint64_t size, std::uint32_t block_size)
    : size_(size), block_size_(block_size), state_(std::make_unique<State>()), buf_(kReadChunk) {}
InOrderHasher::InOrderHasher(InOrderHasher&&) noexcept = default;
InOrderHasher& InOrderHasher::operator=(InOrderHasher&&) noexcept = default;
InOrderHasher::~InOrderHasher() = default;

Result<void> InOrderHasher::advance(const File& file, std::uint64_t upto, std::uint64_t budget) {
  upto = std::min(upto, size_);
  while (hashed_ < upto && budget > 0) {
    // Never across a block's end, so each block's checksum closes exactly there.
    const std::uint64_t block_end = std::min<std::uint64_t>(
        (hashed_ / block_size_ + 1) * static_cast<std::uint64_t>(block_size_), size_);
    const std::size_t want = static_cast<std::size_t>(
        std::min({upto - hashed_, block_end - hashed_, budget, std::uint64_t{buf_.size()}}));
    auto r = file.pread_exact({buf_.data(), want}, hashed_);
    if (!r) return r;
    XXH3_128bits_update(state_->whole, buf_.data(), want);
    XXH3_64bits_update(state_->block, buf_.data(), want);
    hashed_ += want;
    budget -= want;
    if (hashed_ == block_end) {
      blocks_[(block_end - 1) / block_size_] = XXH3_64bits_digest(state_->block);
      XXH3_64bits_reset(state_->block);
    }
  }
  return {};
}

Checksum128 InOrderHasher::digest() const {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits_digest(state_->whole));
  Checksum128 out{};
  std::copy(std::begin(c.digest), std::end(c.digest), out.begin());
  return out;
}

}  // namespace ferry::storage
