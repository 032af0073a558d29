#include "session/bbftp/resume.hpp"

#include <algorithm>

#include "core/bulk_buffer.hpp"

namespace ferry::session {
namespace ext = bbftp::ext;
namespace {

constexpr std::size_t kReadChunk = 1 << 20;

// Sums are XXH3-64 in their canonical (big-endian) bytes; the record keeps them as integers.
std::uint64_t be64(const std::vector<std::uint8_t>& b) {
  return b.size() == 8 ? load_be64(std::span<const std::byte, 8>(as_bytes(b).data(), 8)) : 0;
}

std::vector<std::uint8_t> be64_bytes(std::uint64_t v) {
  std::vector<std::uint8_t> out(8);
  store_be64(std::span<std::byte, 8>(reinterpret_cast<std::byte*>(out.data()), 8), v);
  return out;
}

std::uint64_t block_count(std::uint64_t size, std::uint64_t block) {
  return (size + block - 1) / block;
}

}  // namespace

storage::Result<PartialOffer> offer_partial(storage::AtomicWriter& writer,
                                            std::optional<std::uint64_t> size,
                                            std::chrono::milliseconds budget) {
  PartialOffer o;
  o.offer.size = size.value_or(0);
  auto start_over = [&](std::string why) -> storage::Result<PartialOffer> {
    if (writer.resume_size() > 0) {
      if (auto d = writer.discard_partial(); !d) return Unexpected(d.error());
    }
    o.why = std::move(why);
    o.offer.ranges.clear();
    o.blocks.clear();
    return std::move(o);
  };
  if (writer.resume_size() == 0) return start_over("no partial data");
  const auto bytes = writer.load_record();
  if (!bytes) return start_over("partial data without a record");
  const auto record = storage::decode_record(as_bytes(*bytes));
  if (!record) return start_over("a damaged record");
  if (size && record->size != *size) return start_over("partial data of a file of another size");
  if (record->block_size != ext::integrity_block(record->size) || record->mtime != 0 ||
      record->checksum != storage::Checksum128{}) {
    return start_over("partial data kept by another kind of transfer");
  }
  o.offer.size = record->size;
  auto v = storage::verify_partial(writer.file(), *record, ext::kMaxResumeRanges, budget);
  if (!v) return start_over("its partial data cannot be read: " + v.error().message());
  o.bad_blocks = v->bad_blocks;
  o.blocks = std::move(v->blocks);
  for (std::size_t i = 0; i < v->ranges.size(); ++i) {
    o.offer.ranges.push_back({v->ranges[i].first, v->ranges[i].last, v->range_sums[i]});
  }
  if (o.offer.ranges.empty()) o.why = "no block of the partial data verified";
  return o;
}

storage::Result<ext::ExtResume> answer_offer(const storage::File& file, std::uint64_t size,
                                             const ext::ExtResume& offer, storage::Digest digest,
                                             std::vector<std::vector<std::uint8_t>>& sums,
                                             std::chrono::milliseconds budget) {
  ext::ExtResume answer;
  answer.size = size;
  if (offer.size != size) return answer;
  const std::uint64_t block = ext::integrity_block(size);
  sums.resize(std::max<std::size_t>(sums.size(), block_count(size, block)));
  const auto deadline = storage::budget_deadline(budget);
  BulkBuffer buf(static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, block)));
  storage::Hasher range(storage::Digest::xxh3_64);
  storage::Hasher each(digest);
  for (const auto& g : offer.ranges) {
    if (std::chrono::steady_clock::now() >= deadline) break;  // the rest moves again
    std::vector<std::vector<std::uint8_t>> block_sums;
    bool readable = true;
    for (std::uint64_t at = g.first; at < g.last && readable;) {
      const std::uint64_t block_end = std::min((at / block + 1) * block, g.last);
      const std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), block_end - at));
      if (auto r = file.pread_exact({buf.data(), want}, at); !r) {
        readable = false;  // shorter than it says: the check at the end will tell
        break;
      }
      range.update(Bytes(buf.data(), want));
      each.update(Bytes(buf.data(), want));
      at += want;
      if (at == block_end) block_sums.push_back(each.finish());
    }
    const auto sum = range.finish();
    if (!readable || be64(sum) != g.sum) {
      (void)each.finish();
      continue;
    }
    for (std::size_t k = 0; k < block_sums.size(); ++k) {
      sums[g.first / block + k] = std::move(block_sums[k]);
    }
    answer.ranges.push_back(g);
  }
  return answer;
}

storage::Result<void> answered_sums(const storage::File& file, const ext::ExtResume& answer,
                                    const std::map<std::uint64_t, std::uint64_t>& blocks,
                                    storage::Digest digest,
                                    std::vector<std::vector<std::uint8_t>>& sums) {
  const std::uint64_t block = ext::integrity_block(answer.size);
  sums.resize(std::max<std::size_t>(sums.size(), block_count(answer.size, block)));
  BulkBuffer buf;
  storage::Hasher each(digest);
  for (const auto& g : answer.ranges) {
    for (std::uint64_t b = g.first / block; b * block < g.last; ++b) {
      if (digest == storage::Digest::xxh3_64) {
        const auto it = blocks.find(b);
        if (it == blocks.end()) return storage::fail(EINVAL, file.path());  // not offered
        sums[b] = be64_bytes(it->second);
        continue;
      }
      if (buf.empty())
        buf = BulkBuffer(static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, block)));
      const std::uint64_t end = std::min((b + 1) * block, answer.size);
      for (std::uint64_t at = b * block; at < end;) {
        const std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), end - at));
        if (auto r = file.pread_exact({buf.data(), want}, at); !r) return Unexpected(r.error());
        each.update(Bytes(buf.data(), want));
        at += want;
      }
      sums[b] = each.finish();
    }
  }
  return {};
}

storage::Result<storage::RecordJournal> start_record(
    const storage::AtomicWriter& writer, const ext::ExtResume& answer,
    const std::map<std::uint64_t, std::uint64_t>& blocks) {
  storage::PartialRecord r;
  r.size = answer.size;
  r.block_size = static_cast<std::uint32_t>(ext::integrity_block(answer.size));
  for (const auto& g : answer.ranges) {
    for (auto it = blocks.lower_bound(g.first / r.block_size);
         it != blocks.end() && it->first * r.block_size < g.last; ++it) {
      r.blocks.insert(*it);
    }
  }
  return storage::RecordJournal::start(writer, r);
}

std::uint64_t record_entry(storage::Digest digest, Bytes data,
                           const std::vector<std::uint8_t>& sum) {
  if (digest == storage::Digest::xxh3_64) return be64(sum);
  storage::Hasher h(storage::Digest::xxh3_64);
  h.update(data);
  return be64(h.finish());
}

std::vector<bbftp::Segment> present_segments(const ext::ExtResume& answer) {
  std::vector<bbftp::Segment> out;
  for (const auto& g : answer.ranges) out.push_back({g.first, g.last - g.first});
  return out;
}

}  // namespace ferry::session
