// The record kept beside partial data for resume (docs/protocol/xftp-extended.md, "Resume"; the
// bbftp extension keeps the same): what the data is a copy of, and which blocks of it arrived,
// each with its XXH3-64. Streams fill a file out of order, so its size says nothing: only the
// record says what is there, and the block checksums say whether it still is. Pure: bytes in,
// values out (the file is read and written by AtomicWriter).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "core/bytes.hpp"

namespace ferry::storage {

using Checksum128 = std::array<std::uint8_t, 16>;  // XXH3-128, canonical (big-endian) bytes

// 1 MiB blocks, doubled for files so large that the record would pass 64Ki blocks (up to
// 64 MiB).
inline constexpr std::uint32_t kPartialBlock = 1U << 20;
inline constexpr std::uint64_t kMaxRecordBlocks = 1U << 16;
inline constexpr std::uint32_t kMaxPartialBlock = 64U << 20;  // past 4 PiB, more blocks
inline constexpr std::uint64_t kMaxPartialSize = 1ULL << 62;  // no file is larger
std::uint32_t partial_block_size(std::uint64_t file_size) noexcept;

struct PartialRecord {
  std::uint64_t size = 0;  // of the complete file
  std::int64_t mtime = 0;  // the source's, as its sender gave it (0: not known)
  Checksum128 checksum{};  // the source's whole-file XXH3-128 (zeros: not known)
  std::uint32_t block_size = kPartialBlock;
  std::map<std::uint64_t, std::uint64_t> blocks;  // block index -> XXH3-64 of its bytes

  // The same source: what a resume may continue from (a changed file starts over).
  bool same_source(std::uint64_t s, std::int64_t m, const Checksum128& c) const noexcept {
    return s == size && m == mtime && c == checksum;
  }
  // Bytes [first, last) of block `index` (the last block is short).
  std::uint64_t block_first(std::uint64_t index) const noexcept { return index * block_size; }
  std::uint64_t block_last(std::uint64_t index) const noexcept;
  bool operator==(const PartialRecord&) const = default;
};

// Layout: "FERRYPR1", size u64, mtime i64, checksum [16], block size u32, count u32, count x
// (index u64, xxh3-64 u64), then the XXH3-64 of everything before it (a torn or damaged record is
// refused, not believed): the snapshot. Integers big-endian.
//
// A journal may follow the snapshot: entries of index u64, xxh3-64 u64 and a check (the XXH3-64
// of those 16 bytes seeded with the snapshot's check), each appended as its block arrives (one
// small write per block where a new snapshot would rewrite the whole record). A later entry for
// the same block wins; the first torn or damaged entry ends the journal.
std::vector<std::uint8_t> encode_record(const PartialRecord& r);
// The journal entry to append after `record` (the snapshot written) for block `index`.
std::vector<std::uint8_t> encode_journal_entry(Bytes record, std::uint64_t index,
                                               std::uint64_t sum);
// Nothing when the bytes are not a well-formed record (wrong magic or check, a block past the
// size, indices not ascending, a block size that is not a power of two of at least 4 KiB).
std::optional<PartialRecord> decode_record(Bytes bytes);

}  // namespace ferry::storage
