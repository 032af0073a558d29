#include "storage/partial_record.hpp"

#include <xxhash.h>

#include <bit>
#include <cstring>

namespace ferry::storage {
namespace {

constexpr char kMagic[8] = {'F', 'E', 'R', 'R', 'Y', 'P', 'R', '1'};
constexpr std::size_t kFixed = 8 + 8 + 8 + 16 + 4 + 4;
constexpr std::size_t kPerBlock = 16;
constexpr std::uint32_t kMinBlock = 4096;
constexpr std::size_t kJournalEntry = 24;

void put(std::vector<std::uint8_t>& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::uint64_t get(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::uint32_t partial_block_size(std::uint64_t file_size) noexcept {
  std::uint64_t b = kPartialBlock;
  while (file_size / b >= kMaxRecordBlocks && b < kMaxPartialBlock) b <<= 1;
  return static_cast<std::uint32_t>(b);
}

std::uint64_t PartialRecord::block_last(std::uint64_t index) const noexcept {
  const std::uint64_t end = (index + 1) * block_size;
  return end < size ? end : size;
}

std::vector<std::uint8_t> encode_record(const PartialRecord& r) {
  std::vector<std::uint8_t> out(kMagic, kMagic + sizeof kMagic);
  out.reserve(kFixed + r.blocks.size() * kPerBlock + 8);
  put(out, r.size, 8);
  put(out, static_cast<std::uint64_t>(r.mtime), 8);
  out.insert(out.end(), r.checksum.begin(), r.checksum.end());
  put(out, r.block_size, 4);
  put(out, r.blocks.size(), 4);
  for (const auto& [index, sum] : r.blocks) {
    put(out, index, 8);
    put(out, sum, 8);
  }
  put(out, XXH3_64bits(out.data(), out.size()), 8);
  return out;
}

std::optional<PartialRecord> decode_record(Bytes bytes) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const std::size_t n = bytes.size();
  if (n < kFixed + 8 || std::memcmp(p, kMagic, sizeof kMagic) != 0) return std::nullopt;
  PartialRecord r;
  r.size = get(p + 8, 8);
  r.mtime = static_cast<std::int64_t>(get(p + 16, 8));
  std::memcpy(r.checksum.data(), p + 24, r.checksum.size());
  r.block_size = static_cast<std::uint32_t>(get(p + 40, 4));
  const std::uint64_t count = get(p + 44, 4);
  if (r.block_size < kMinBlock || r.block_size > kMaxPartialBlock ||
      !std::has_single_bit(r.block_size) || r.size > kMaxPartialSize) {
    return std::nullopt;
  }
  const std::uint64_t snapshot = kFixed + count * kPerBlock + 8;
  if (n < snapshot) return std::nullopt;
  const std::uint64_t check = get(p + snapshot - 8, 8);
  if (check != XXH3_64bits(p, snapshot - 8)) return std::nullopt;
  const std::uint64_t blocks_in_file = r.size / r.block_size + (r.size % r.block_size != 0);
  const std::uint8_t* b = p + kFixed;
  for (std::uint64_t i = 0; i < count; ++i, b += kPerBlock) {
    const std::uint64_t index = get(b, 8);
    if (index >= blocks_in_file) return std::nullopt;
    if (!r.blocks.empty() && index <= r.blocks.rbegin()->first) return std::nullopt;
    r.blocks.emplace_hint(r.blocks.end(), index, get(b + 8, 8));
  }
  // The journal: entries appended since the snapshot, each sealed to it. The first that is torn
  // (the writer was killed in the middle of it) or does not check ends it.
  for (const std::uint8_t* e = p + snapshot; e + kJournalEntry <= p + n; e += kJournalEntry) {
    const std::uint64_t index = get(e, 8);
    if (index >= blocks_in_file || get(e + 16, 8) != XXH3_64bits_withSeed(e, 16, check)) break;
    r.blocks[index] = get(e + 8, 8);
  }
  return r;
}

std::vector<std::uint8_t> encode_journal_entry(Bytes record, std::uint64_t index,
                                               std::uint64_t sum) {
  std::vector<std::uint8_t> out;
  out.reserve(kJournalEntry);
  put(out, index, 8);
  put(out, sum, 8);
  const auto* p = reinterpret_cast<const std::uint8_t*>(record.data());
  const std::uint64_t check = record.size() >= 8 ? get(p + record.size() - 8, 8) : 0;
  put(out, XXH3_64bits_withSeed(out.data(), 16, check), 8);
  return out;
}

}  // namespace ferry::storage
