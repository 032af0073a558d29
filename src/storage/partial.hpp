// Partial data for resume, on disk: beside the target NAME, ".ferry-partial.NAME" holds the bytes
// that arrived and ".ferry-ranges.NAME" their record (partial_record.hpp). Both are temporaries
// (is_temporary_name): hidden from listings, refused by every command, on the target's
// filesystem so the final rename stays one rename. An AtomicWriter opened resumable writes them.
//
// Resume is only as good as the check of what is kept: verify_partial() reads every recorded
// block again and keeps those whose XXH3-64 still matches; InOrderHasher hashes what arrives, in
// file order, as it becomes contiguous, giving the whole-file checksum at the end without reading
// the file again and the blocks' checksums for the record on the way.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/bulk_buffer.hpp"
#include "storage/error.hpp"
#include "storage/file.hpp"
#include "storage/partial_record.hpp"

namespace ferry::storage {

inline constexpr std::string_view kPartialPrefix = ".ferry-partial.";
inline constexpr std::string_view kRangesPrefix = ".ferry-ranges.";

// The two names for a target's leaf. Leaves too long to prefix use their hash instead.
std::string partial_data_name(std::string_view leaf);
std::string partial_record_name(std::string_view leaf);
// For a partial data file's name, its record's name (empty when `data_name` is not one).
std::string record_name_of(std::string_view data_name);
// The name a record's new copy is written under before it replaces the record.
std::string record_fresh_name(std::string_view leaf);
bool is_partial_name(std::string_view leaf) noexcept;  // any of these names
bool is_partial_data_name(std::string_view leaf) noexcept;
// For a record's name, its data's (a new copy's "data" never exists: an orphan).
std::string data_name_of(std::string_view record_name);

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // one past the end
  bool operator==(const ByteRange&) const = default;
};

// What of a partial file can be believed. Blocks are read in their record's order until
// `max_ranges` ranges are complete or `budget` has passed (a huge partial on a slow disk must
// not hold a reply for minutes): what is not read is not offered, and is sent again.
struct VerifiedPartial {
  std::map<std::uint64_t, std::uint64_t> blocks;  // the recorded blocks that still match
  std::uint64_t bad_blocks = 0;                   // recorded, but their bytes differ now
  // The good blocks merged into ranges (at most `max_ranges`, lowest first; blocks past them
  // are left out), each with the XXH3-64 of its bytes, so the sender can check them too.
  std::vector<ByteRange> ranges;
  std::vector<std::uint64_t> range_sums;
  std::uint64_t bytes() const noexcept;
};
Result<VerifiedPartial> verify_partial(
    const File& file, const PartialRecord& record, std::size_t max_ranges,
    std::chrono::milliseconds budget = std::chrono::milliseconds::max());
// When a budget of reading time that starts now runs out: never for a day or more (the
// default, milliseconds::max(), would overflow the clock).
std::chrono::steady_clock::time_point budget_deadline(std::chrono::milliseconds budget);

class AtomicWriter;

// Where a resumable writer continues for a source (its size, mtime and checksum): the recorded
// blocks that still verify, in at most `max_ranges` ranges. Partial data of another source,
// with a record that cannot be read, or with none, starts over empty (`why` says which, for
// the log); so does any with `max_ranges` 0 (a transfer that is not to resume).
struct ResumeFrom {
  VerifiedPartial verified;
  PartialRecord base;        // the source, and the blocks offered: what checkpoints start from
  bool had_partial = false;  // there was partial data (kept, or started over: see `why`)
  std::string why;           // why nothing is kept
};
Result<ResumeFrom> resume_from(AtomicWriter& writer, std::uint64_t size, std::int64_t mtime,
                               const Checksum128& checksum, std::size_t max_ranges,
                               std::chrono::milliseconds budget = std::chrono::milliseconds::max());
// Saves `base` plus the blocks hashed since as the writer's record.
Result<void> save_checkpoint(const AtomicWriter& writer, PartialRecord base,
                             const std::map<std::uint64_t, std::uint64_t>& hashed);

// A record kept up to date block by block: the snapshot written once, then one journal entry
// per block that arrived (partial_record.hpp), so that a receiver killed at any point loses at
// most the blocks it was writing. Each entry is one write(2) to a file opened O_APPEND, which
// the kernel keeps whole: streams on several threads may append at once.
class RecordJournal {
 public:
  // Writes `snapshot` as the writer's record and opens it for the entries to follow.
  static Result<RecordJournal> start(const AtomicWriter& writer, const PartialRecord& snapshot);
  RecordJournal() = default;
  Result<void> append(std::uint64_t index, std::uint64_t sum) const;
  explicit operator bool() const noexcept { return static_cast<bool>(file_); }

 private:
  File file_;
  std::vector<std::uint8_t> tail_;  // the snapshot's last 8 bytes: its check seals the entries
};

// The XXH3-64 of bytes [first, last) of `file` (a sender checking a range it is offered).
Result<std::uint64_t> range_checksum(const File& file, std::uint64_t first, std::uint64_t last);

// Hashes a file being received in order: call advance() with how far the bytes are contiguous.
class InOrderHasher {
 public:
  InOrderHasher(std::uint64_t size, std::uint32_t block_size);
  InOrderHasher(InOrderHasher&&) noexcept;
  InOrderHasher& operator=(InOrderHasher&&) noexcept;
  ~InOrderHasher();

  // Reads and hashes bytes [hashed(), upto) of `file`, `budget` bytes at most this call (a
  // receive loop keeps answering its peer meanwhile).
  Result<void> advance(const File& file, std::uint64_t upto, std::uint64_t budget = ~0ULL);
  std::uint64_t hashed() const noexcept { return hashed_; }
  bool done() const noexcept { return hashed_ == size_; }
  // The whole file's XXH3-128 (call once done()).
  Checksum128 digest() const;
  // The blocks hashed so far (each complete, or the file's last one).
  const std::map<std::uint64_t, std::uint64_t>& blocks() const noexcept { return blocks_; }

 private:
  struct State;
  std::uint64_t size_;
  std::uint32_t block_size_;
  std::uint64_t hashed_ = 0;
  std::unique_ptr<State> state_;
  BulkBuffer buf_;
  std::map<std::uint64_t, std::uint64_t> blocks_;
};

}  // namespace ferry::storage
