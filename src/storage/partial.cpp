#include "storage/partial.hpp"

#include <xxhash.h>

#include "core/bulk_buffer.hpp"
// Debian's libxxhash picks the widest vector unit at run time (AVX2 where there is one: about
// 4x the default SSE2 speed) through its _dispatch functions; the header maps XXH3 onto them.
#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
#include <xxh_x86dispatch.h>
#endif

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <new>

#include "storage/atomic_writer.hpp"
#include "storage/path.hpp"

namespace ferry::storage {
namespace {

constexpr std::size_t kReadChunk = 1 << 20;

// "ferry-partial" and "ferry-ranges" then '.' and the leaf, or, for leaves too long for that,
// '#' and the leaf's hash: no leaf gives a name of the other form, so two targets never share
// partial data. The record's new copy is "ferry-ranges" '%' hash: no record has that name.
constexpr std::string_view kPartialStem = ".ferry-partial";
constexpr std::string_view kRangesStem = ".ferry-ranges";

std::string hash_of(std::string_view leaf) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(leaf.data(), leaf.size())));
  return buf;
}

std::string name_for(std::string_view stem, std::string_view leaf) {
  if (kPartialPrefix.size() + leaf.size() <= kMaxNameBytes) {
    return std::string(stem) + "." + std::string(leaf);
  }
  return std::string(stem) + "#" + hash_of(leaf);
}

bool has_stem(std::string_view name, std::string_view stem) {
  return name.size() > stem.size() + 1 && name.starts_with(stem) &&
         (name[stem.size()] == '.' || name[stem.size()] == '#' || name[stem.size()] == '%');
}

}  // namespace

std::string partial_data_name(std::string_view leaf) {
  return name_for(kPartialStem, leaf);
}

std::string partial_record_name(std::string_view leaf) {
  return name_for(kRangesStem, leaf);
}

std::string record_fresh_name(std::string_view leaf) {
  return std::string(kRangesStem) + "%" + hash_of(leaf);
}

std::string record_name_of(std::string_view data_name) {
  if (!has_stem(data_name, kPartialStem) || data_name[kPartialStem.size()] == '%') return {};
  return std::string(kRangesStem) + std::string(data_name.substr(kPartialStem.size()));
}

bool is_partial_name(std::string_view leaf) noexcept {
  return has_stem(leaf, kPartialStem) || has_stem(leaf, kRangesStem);
}

bool is_partial_data_name(std::string_view leaf) noexcept {
  return has_stem(leaf, kPartialStem);
}

std::string data_name_of(std::string_view record_name) {
  if (!has_stem(record_name, kRangesStem)) return {};
  return std::string(kPartialStem) + std::string(record_name.substr(kRangesStem.size()));
}

std::uint64_t VerifiedPartial::bytes() const noexcept {
  std::uint64_t n = 0;
  for (const auto& r : ranges) n += r.last - r.first;
  return n;
}

std::chrono::steady_clock::time_point budget_deadline(std::chrono::milliseconds budget) {
  using Clock = std::chrono::steady_clock;
  return budget < std::chrono::hours(24) ? Clock::now() + budget : Clock::time_point::max();
}

Result<VerifiedPartial> verify_partial(const File& file, const PartialRecord& record,
                                       std::size_t max_ranges, std::chrono::milliseconds budget) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = budget_deadline(budget);
  VerifiedPartial v;
  BulkBuffer buf(kReadChunk);  // blocks are read in chunks: a block may be large
  XXH3_state_t* range_state = XXH3_createState();
  XXH3_state_t* block_state = XXH3_createState();
  struct Free {
    XXH3_state_t* a;
    XXH3_state_t* b;
    ~Free() {
      XXH3_freeState(a);
      XXH3_freeState(b);
    }
  } free_states{range_state, block_state};
  if (range_state == nullptr || block_state == nullptr) throw std::bad_alloc();
  bool open = false;  // a range is being built
  auto close_range = [&] {
    if (open) v.range_sums.push_back(XXH3_64bits_digest(range_state));
    open = false;
  };
  for (const auto& [index, sum] : record.blocks) {
    // Past the last range offered, or out of time: the rest is sent again, unread.
    if ((v.ranges.size() == max_ranges && !open) || Clock::now() >= deadline) break;
    const std::uint64_t first = record.block_first(index), last = record.block_last(index);
    const bool extends = open && v.ranges.back().last == first;
    if (!extends && v.ranges.size() == max_ranges) break;
    XXH3_64bits_reset(block_state);
    bool whole = true;
    for (std::uint64_t at = first; at < last;) {
      const std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, last - at));
      auto read = file.pread_some({buf.data(), want}, at);
      if (!read) return Unexpected(read.error());
      if (*read != want) {  // cut short
        whole = false;
        break;
      }
      XXH3_64bits_update(block_state, buf.data(), want);
      at += want;
    }
    if (!whole || XXH3_64bits_digest(block_state) != sum) {  // changed, or cut short
      ++v.bad_blocks;
      close_range();
      continue;
    }
    if (!extends) {
      close_range();
      v.ranges.push_back({first, first});
      XXH3_64bits_reset(range_state);
      open = true;
    }
    // The block's bytes again, for its range's checksum (from the page cache: just read).
    for (std::uint64_t at = first; at < last;) {
      const std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, last - at));
      auto read = file.pread_exact({buf.data(), want}, at);
      if (!read) return Unexpected(read.error());
      XXH3_64bits_update(range_state, buf.data(), want);
      at += want;
    }
    v.ranges.back().last = last;
    v.blocks.emplace(index, sum);
  }
  close_range();
  return v;
}

Result<ResumeFrom> resume_from(AtomicWriter& writer, std::uint64_t size, std::int64_t mtime,
                               const Checksum128& checksum, std::size_t max_ranges,
                               std::chrono::milliseconds budget) {
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
  auto verified = verify_partial(writer.file(), *record, max_ranges, budget);
  if (!verified)
    return start_over("its partial data cannot be read: " + verified.error().message());
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

Result<RecordJournal> RecordJournal::start(const AtomicWriter& writer,
                                           const PartialRecord& snapshot) {
  const auto bytes = encode_record(snapshot);
  if (auto saved = writer.save_record(as_bytes(bytes)); !saved) return Unexpected(saved.error());
  auto file = writer.open_record_for_append();
  if (!file) return Unexpected(file.error());
  RecordJournal j;
  j.file_ = std::move(*file);
  j.tail_.assign(bytes.end() - 8, bytes.end());
  return j;
}

Result<void> RecordJournal::append(std::uint64_t index, std::uint64_t sum) const {
  const auto entry = encode_journal_entry(as_bytes(tail_), index, sum);
  for (;;) {
    const ssize_t n = ::write(file_.fd(), entry.data(), entry.size());
    if (n == static_cast<ssize_t>(entry.size())) return {};
    if (n < 0 && errno == EINTR) continue;
    // A short write leaves a torn entry: the journal ends there, the block is sent again.
    return fail(n < 0 ? errno : ENOSPC, file_.path());
  }
}

Result<std::uint64_t> range_checksum(const File& file, std::uint64_t first, std::uint64_t last) {
  XXH3_state_t* s = XXH3_createState();
  if (s == nullptr) throw std::bad_alloc();
  struct Free {
    XXH3_state_t* s;
    ~Free() { XXH3_freeState(s); }
  } free_state{s};
  XXH3_64bits_reset(s);
  BulkBuffer buf(kReadChunk);
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
