// Partial data kept for resume: its record's layout (a golden vector), the check of what is
// kept, hashing in file order, the names, and what a sweep removes.
#include "storage/partial.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <xxhash.h>

#include <random>

#include "storage/atomic_writer.hpp"
#include "storage/checksum.hpp"
#include "storage/path.hpp"
#include "storage/sandbox.hpp"
#include "support/temp_dir.hpp"

namespace ferry::test {
namespace {

using storage::PartialRecord;

constexpr std::uint64_t kMiB = 1 << 20;

std::string random_data(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::uint64_t xxh64_of(std::string_view s) {
  return XXH3_64bits(s.data(), s.size());
}

std::vector<std::uint8_t> hex(std::string_view h) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    if (h[i] == ' ') {
      --i;
      continue;
    }
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// The layout, spelled out byte by byte; the trailing check is XXH3-64 of what precedes it.
std::vector<std::uint8_t> golden_bytes() {
  auto b =
      hex("4645525259505231"                  // "FERRYPR1"
          "0000000000300005"                  // size 3 MiB + 5
          "000000006553f100"                  // mtime 1700000000
          "0102030405060708090a0b0c0d0e0f10"  // checksum
          "00100000"                          // block size 1 MiB
          "00000002"                          // two blocks
          "0000000000000000"
          "1111111111111111"  // block 0
          "0000000000000003"
          "2222222222222222");  // block 3, the short last one
  const std::uint64_t check = XXH3_64bits(b.data(), b.size());
  for (int i = 7; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(check >> (8 * i)));
  return b;
}

PartialRecord golden_record() {
  PartialRecord r;
  r.size = 3 * kMiB + 5;
  r.mtime = 1700000000;
  for (int i = 0; i < 16; ++i) r.checksum[i] = static_cast<std::uint8_t>(i + 1);
  r.block_size = 1 << 20;
  r.blocks = {{0, 0x1111111111111111}, {3, 0x2222222222222222}};
  return r;
}

// Re-seals `b` (its last 8 bytes) after a test has changed a field.
void reseal(std::vector<std::uint8_t>& b) {
  b.resize(b.size() - 8);
  const std::uint64_t check = XXH3_64bits(b.data(), b.size());
  for (int i = 7; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(check >> (8 * i)));
}

TEST(PartialRecord, GoldenVector) {
  EXPECT_EQ(storage::encode_record(golden_record()), golden_bytes());
  auto back = storage::decode_record(as_bytes(golden_bytes()));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, golden_record());
  EXPECT_EQ(back->block_last(3), 3 * kMiB + 5);
  EXPECT_TRUE(back->same_source(3 * kMiB + 5, 1700000000, golden_record().checksum));
  EXPECT_FALSE(back->same_source(3 * kMiB + 5, 1700000001, golden_record().checksum));
}

TEST(PartialRecord, RefusesWhatIsNotAWholeWellFormedRecord) {
  const auto good = golden_bytes();
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    std::vector<std::uint8_t> b(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_FALSE(storage::decode_record(as_bytes(b))) << "cut at " << cut;
  }
  for (std::size_t i = 0; i < good.size(); ++i) {  // any damaged byte fails the check
    auto b = good;
    b[i] ^= 0x40;
    EXPECT_FALSE(storage::decode_record(as_bytes(b))) << "byte " << i;
  }
  auto past_end = good;  // block 4 of a file of 4 blocks
  past_end[44 + 4 + 16 + 7] = 4;
  reseal(past_end);
  EXPECT_FALSE(storage::decode_record(as_bytes(past_end)));
  auto descending = good;  // block 0 after block 0
  descending[44 + 4 + 16 + 7] = 0;
  reseal(descending);
  EXPECT_FALSE(storage::decode_record(as_bytes(descending)));
  auto odd_block = good;  // a block size that is not a power of two
  odd_block[43] = 1;
  reseal(odd_block);
  EXPECT_FALSE(storage::decode_record(as_bytes(odd_block)));
  auto count_lies = good;
  count_lies[47] = 3;
  reseal(count_lies);
  EXPECT_FALSE(storage::decode_record(as_bytes(count_lies)));
}

// Entries appended after the snapshot, each sealed to it: read in order (a later one for a
// block wins); the first torn or damaged one, or one sealed to another snapshot, ends them.
TEST(PartialRecord, AJournalAfterTheSnapshotAddsBlocksUntilItsFirstBadEntry) {
  auto b = golden_bytes();
  const auto snapshot = b;
  auto append = [&](std::uint64_t index, std::uint64_t sum) {
    const auto e = storage::encode_journal_entry(as_bytes(snapshot), index, sum);
    EXPECT_EQ(e.size(), 24U);
    b.insert(b.end(), e.begin(), e.end());
  };
  append(1, 0x3333);
  append(0, 0x4444);  // block 0 again: the later sum wins
  auto r = storage::decode_record(as_bytes(b));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->blocks, (std::map<std::uint64_t, std::uint64_t>{
                           {0, 0x4444}, {1, 0x3333}, {3, 0x2222222222222222}}));
  auto torn = b;  // killed while appending the next entry
  const auto next = storage::encode_journal_entry(as_bytes(snapshot), 2, 0x5555);
  torn.insert(torn.end(), next.begin(), next.begin() + 23);
  r = storage::decode_record(as_bytes(torn));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->blocks.count(2), 0U);
  EXPECT_EQ(r->blocks.size(), 3U);
  auto damaged = b;  // the first entry's sum changed: it and all after it are ignored
  damaged[snapshot.size() + 12] ^= 1;
  r = storage::decode_record(as_bytes(damaged));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->blocks, golden_record().blocks);
  auto other = snapshot;  // sealed to another snapshot
  const auto foreign = storage::encode_journal_entry(as_bytes(hex("0000000000000001")), 1, 9);
  other.insert(other.end(), foreign.begin(), foreign.end());
  r = storage::decode_record(as_bytes(other));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->blocks, golden_record().blocks);
  auto past = snapshot;  // a block past the file's end
  const auto beyond = storage::encode_journal_entry(as_bytes(snapshot), 4, 9);
  past.insert(past.end(), beyond.begin(), beyond.end());
  r = storage::decode_record(as_bytes(past));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->blocks, golden_record().blocks);
}

TEST(PartialRecord, BlockSizeGrowsSoRecordsStayBounded) {
  EXPECT_EQ(storage::partial_block_size(0), 1U << 20);
  EXPECT_EQ(storage::partial_block_size(64ULL << 30), 2U << 20);
  EXPECT_EQ(storage::partial_block_size((64ULL << 30) - 1), 1U << 20);
  EXPECT_LT((1ULL << 40) / storage::partial_block_size(1ULL << 40), storage::kMaxRecordBlocks);
}

TEST(PartialNames, HiddenRefusedAndPaired) {
  EXPECT_EQ(storage::partial_data_name("f.bin"), ".ferry-partial.f.bin");
  EXPECT_EQ(storage::partial_record_name("f.bin"), ".ferry-ranges.f.bin");
  EXPECT_EQ(storage::record_name_of(".ferry-partial.f.bin"), ".ferry-ranges.f.bin");
  EXPECT_EQ(storage::record_name_of("f.bin"), "");
  for (const auto* n : {".ferry-partial.f.bin", ".ferry-ranges.f.bin"}) {
    EXPECT_TRUE(storage::is_temporary_name(n)) << n;
    EXPECT_FALSE(storage::check_path(std::string("dir/") + n, {.hide_temporaries = true})) << n;
  }
  EXPECT_FALSE(storage::is_partial_name(".ferry-partial."));
  EXPECT_FALSE(storage::is_temporary_name("ferry-partial.f"));
  const std::string longest(255, 'n');
  const auto data = storage::partial_data_name(longest);
  EXPECT_LE(data.size(), storage::kMaxNameBytes);
  EXPECT_LE(storage::partial_record_name(longest).size(), storage::kMaxNameBytes);
  EXPECT_EQ(storage::record_name_of(data), storage::partial_record_name(longest));
  EXPECT_NE(storage::partial_data_name(std::string(254, 'n')), data);
  // The hashed form cannot be reached by a short leaf, nor a record's new copy by any leaf.
  const std::string hashed_part = data.substr(std::string_view(".ferry-partial").size() + 1);
  EXPECT_NE(storage::partial_data_name(hashed_part), data);
  EXPECT_NE(storage::partial_data_name("~" + hashed_part), data);
  EXPECT_NE(storage::partial_record_name("%" + hashed_part), storage::record_fresh_name(longest));
  EXPECT_TRUE(storage::is_temporary_name(storage::record_fresh_name("f")));
  EXPECT_EQ(storage::data_name_of(storage::partial_record_name("f")), ".ferry-partial.f");
}

class PartialFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sb = storage::Sandbox::confined(dir.path());
    ASSERT_TRUE(sb);
    sandbox = std::make_unique<storage::Sandbox>(std::move(*sb));
  }
  storage::AtomicWriter writer(std::string_view name) {
    auto w = sandbox->create(name, {.collision = storage::Collision::exclusive, .resumable = true});
    EXPECT_TRUE(w) << w.error().message();
    return std::move(*w);
  }
  TempDir dir;
  std::unique_ptr<storage::Sandbox> sandbox;
};

TEST_F(PartialFiles, HashingInFileOrderGivesTheWholeChecksumAndEveryBlock) {
  const std::string data = random_data(2 * kMiB + 300000, 1);
  write_file(dir / "f", data);
  auto file = sandbox->open_read("f");
  ASSERT_TRUE(file);
  storage::InOrderHasher h(data.size(), 1 << 20);
  // Uneven steps, budgets that end mid-block, and a step that goes backwards (ignored).
  ASSERT_TRUE(h.advance(*file, 1000));
  ASSERT_TRUE(h.advance(*file, 500));
  ASSERT_TRUE(h.advance(*file, 1500000, 7777));
  EXPECT_EQ(h.hashed(), 1000u + 7777u);
  ASSERT_TRUE(h.advance(*file, 1500000));
  EXPECT_EQ(h.blocks().size(), 1u);
  ASSERT_TRUE(h.advance(*file, ~0ULL));
  ASSERT_TRUE(h.done());
  auto whole = storage::checksum_file(*file);
  ASSERT_TRUE(whole);
  std::string got;
  for (auto b : h.digest()) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", b);
    got += two;
  }
  EXPECT_EQ(got, *whole);
  ASSERT_EQ(h.blocks().size(), 3u);
  EXPECT_EQ(h.blocks().at(0), xxh64_of(std::string_view(data).substr(0, kMiB)));
  EXPECT_EQ(h.blocks().at(1), xxh64_of(std::string_view(data).substr(kMiB, kMiB)));
  EXPECT_EQ(h.blocks().at(2), xxh64_of(std::string_view(data).substr(2 * kMiB)));
}

TEST_F(PartialFiles, HashingEdgesEmptyAndExactMultiples) {
  write_file(dir / "empty", "");
  auto empty = sandbox->open_read("empty");
  ASSERT_TRUE(empty);
  storage::InOrderHasher none(0, 1 << 20);
  ASSERT_TRUE(none.advance(*empty, 0));
  EXPECT_TRUE(none.done());
  EXPECT_TRUE(none.blocks().empty());
  const std::string data = random_data(2 * kMiB, 4);  // exactly two blocks
  write_file(dir / "two", data);
  auto two = sandbox->open_read("two");
  ASSERT_TRUE(two);
  storage::InOrderHasher h(data.size(), 1 << 20);
  ASSERT_TRUE(h.advance(*two, data.size()));
  ASSERT_EQ(h.blocks().size(), 2u);
  EXPECT_EQ(h.blocks().at(1), xxh64_of(std::string_view(data).substr(kMiB)));
}

TEST_F(PartialFiles, VerifyingStopsAtItsBudget) {
  const std::string data = random_data(3 * kMiB, 5);
  PartialRecord r;
  r.size = data.size();
  for (std::uint64_t i = 0; i < 3; ++i) {
    r.blocks[i] = xxh64_of(std::string_view(data).substr(i * kMiB, kMiB));
  }
  write_file(dir / "p", data);
  auto file = sandbox->open_read("p");
  ASSERT_TRUE(file);
  auto none = storage::verify_partial(*file, r, 8, std::chrono::milliseconds(0));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->ranges.empty());
  EXPECT_EQ(none->bad_blocks, 0u);
  auto all = storage::verify_partial(*file, r, 8, std::chrono::seconds(60));
  ASSERT_TRUE(all);
  EXPECT_EQ(all->bytes(), data.size());
}

TEST_F(PartialFiles, ADirectoryHoldingOnlyUnheldTemporariesCanBeRemoved) {
  auto hiding = storage::Sandbox::confined(
      dir.path(), {.policy = {.require_utf8 = false, .hide_temporaries = true}});
  ASSERT_TRUE(hiding);
  ASSERT_TRUE(hiding->mkdir("d"));
  write_file(dir / "d/.ferry-partial.x", "x");
  write_file(dir / "d/.ferry-ranges.x", "x");
  write_file(dir / "d/.y.ferry-part", "y");
  ASSERT_TRUE(hiding->rmdir("d"));
  EXPECT_FALSE(exists(dir / "d"));
  // One being written stays, and so does its directory.
  ASSERT_TRUE(hiding->mkdir("e"));
  auto held =
      hiding->create("e/z", {.collision = storage::Collision::exclusive, .resumable = true});
  ASSERT_TRUE(held);
  ASSERT_TRUE(held->pwrite_all(as_bytes("z"), 0));
  auto refused = hiding->rmdir("e");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, storage::Errc::not_empty);
  EXPECT_TRUE(exists(dir / "e/.ferry-partial.z"));
  // A real file is never touched.
  ASSERT_TRUE(hiding->mkdir("f"));
  write_file(dir / "f/real", "r");
  write_file(dir / "f/.ferry-partial.q", "q");
  EXPECT_FALSE(hiding->rmdir("f"));
  EXPECT_TRUE(exists(dir / "f/real"));
}

TEST_F(PartialFiles, VerifyKeepsOnlyBlocksThatStillMatch) {
  const std::string data = random_data(4 * kMiB + 10, 2);
  PartialRecord r;
  r.size = data.size();
  for (std::uint64_t i = 0; i < 5; ++i) {
    r.blocks[i] = xxh64_of(std::string_view(data).substr(i * kMiB, kMiB));
  }
  std::string damaged = data;
  damaged[kMiB + 77] ^= 1;  // block 1
  write_file(dir / "p", damaged);
  auto file = sandbox->open_read("p");
  ASSERT_TRUE(file);
  auto v = storage::verify_partial(*file, r, 8);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->bad_blocks, 1u);
  ASSERT_EQ(v->ranges.size(), 2u);
  EXPECT_EQ(v->ranges[0], (storage::ByteRange{0, kMiB}));
  EXPECT_EQ(v->ranges[1], (storage::ByteRange{2 * kMiB, data.size()}));
  EXPECT_EQ(v->range_sums[0], xxh64_of(std::string_view(data).substr(0, kMiB)));
  EXPECT_EQ(v->range_sums[1], xxh64_of(std::string_view(data).substr(2 * kMiB)));
  EXPECT_EQ(v->bytes(), data.size() - kMiB);
  EXPECT_EQ(v->blocks.count(1), 0u);
  auto r2 = storage::range_checksum(*file, 2 * kMiB, data.size());
  ASSERT_TRUE(r2);
  EXPECT_EQ(*r2, v->range_sums[1]);
  // At most one range offered: the rest is sent again, and not recorded as offered.
  auto one = storage::verify_partial(*file, r, 1);
  ASSERT_TRUE(one);
  ASSERT_EQ(one->ranges.size(), 1u);
  EXPECT_EQ(one->blocks.size(), 1u);
  // A file cut short: its last blocks are bad, not an error.
  write_file(dir / "p", data.substr(0, 2 * kMiB));
  auto shorter = sandbox->open_read("p");
  ASSERT_TRUE(shorter);
  auto cut = storage::verify_partial(*shorter, r, 8);
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->bad_blocks, 3u);
  EXPECT_EQ(cut->bytes(), 2 * kMiB);
}

TEST_F(PartialFiles, AResumableWriterKeepsDataAndRecordUntilCommit) {
  const std::string data = random_data(3 * kMiB, 3);
  const storage::Checksum128 source{1, 2, 3};
  {
    auto w = writer("f");
    auto from = storage::resume_from(w, data.size(), 42, source, 40);
    ASSERT_TRUE(from);
    EXPECT_FALSE(from->had_partial);
    ASSERT_TRUE(w.pwrite_all(as_bytes(std::string_view(data).substr(0, 2 * kMiB)), 0));
    storage::InOrderHasher h(data.size(), from->base.block_size);
    ASSERT_TRUE(h.advance(w.file(), 2 * kMiB));
    ASSERT_TRUE(storage::save_checkpoint(w, from->base, h.blocks()));
    w.abort(storage::Partial::keep);
  }
  EXPECT_TRUE(exists(dir / ".ferry-partial.f"));
  EXPECT_TRUE(exists(dir / ".ferry-ranges.f"));
  EXPECT_FALSE(exists(dir / "f"));
  {
    auto w = writer("f");
    auto from = storage::resume_from(w, data.size(), 42, source, 40);
    ASSERT_TRUE(from);
    EXPECT_TRUE(from->had_partial);
    ASSERT_EQ(from->verified.ranges.size(), 1u);
    EXPECT_EQ(from->verified.ranges[0], (storage::ByteRange{0, 2 * kMiB}));
    EXPECT_EQ(from->base.blocks.size(), 2u);
    w.abort(storage::Partial::keep);
  }
  {
    // Another version of the file (a different mtime): started over, the record gone.
    auto w = writer("f");
    auto from = storage::resume_from(w, data.size(), 43, source, 40);
    ASSERT_TRUE(from);
    EXPECT_TRUE(from->had_partial);
    EXPECT_TRUE(from->verified.ranges.empty());
    EXPECT_EQ(w.resume_size(), 0u);
    EXPECT_FALSE(exists(dir / ".ferry-ranges.f"));
    ASSERT_TRUE(w.pwrite_all(as_bytes(data), 0));
    ASSERT_TRUE(storage::save_checkpoint(w, from->base, {}));
    ASSERT_TRUE(w.commit());
  }
  EXPECT_EQ(read_file(dir / "f"), data);
  EXPECT_FALSE(exists(dir / ".ferry-partial.f"));
  EXPECT_FALSE(exists(dir / ".ferry-ranges.f"));
}

// A record journal: the snapshot written, then an entry per block, all read back as one
// record; a later snapshot starts a new journal.
TEST_F(PartialFiles, AJournalGrowsTheRecordBlockByBlock) {
  auto w = writer("f");
  PartialRecord base;
  base.size = 3 * kMiB;
  base.blocks = {{0, 11}};
  auto j = storage::RecordJournal::start(w, base);
  ASSERT_TRUE(j) << j.error().message();
  ASSERT_TRUE(j->append(2, 22));
  ASSERT_TRUE(j->append(1, 33));
  auto r = storage::decode_record(as_bytes(*w.load_record()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->blocks, (std::map<std::uint64_t, std::uint64_t>{{0, 11}, {1, 33}, {2, 22}}));
  base.blocks = {};
  auto again = storage::RecordJournal::start(w, base);
  ASSERT_TRUE(again);
  ASSERT_TRUE(again->append(1, 44));
  r = storage::decode_record(as_bytes(*w.load_record()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->blocks, (std::map<std::uint64_t, std::uint64_t>{{1, 44}}));
  EXPECT_TRUE(j->append(0, 55)) << "the old journal writes to the replaced file, harmlessly";
  r = storage::decode_record(as_bytes(*w.load_record()));
  EXPECT_EQ(r->blocks.size(), 1U);
}

TEST_F(PartialFiles, ADamagedRecordOrNoneStartsOver) {
  {
    auto w = writer("g");
    ASSERT_TRUE(w.pwrite_all(as_bytes("some bytes"), 0));
    w.abort(storage::Partial::keep);  // no record saved
  }
  {
    auto w = writer("g");
    auto from = storage::resume_from(w, 10, 0, {}, 40);
    ASSERT_TRUE(from);
    EXPECT_EQ(from->why, "partial data without a record");
    ASSERT_TRUE(w.pwrite_all(as_bytes("some bytes"), 0));
    ASSERT_TRUE(w.save_record(as_bytes("not a record")));
    w.abort(storage::Partial::keep);
  }
  auto w = writer("g");
  auto from = storage::resume_from(w, 10, 0, {}, 40);
  ASSERT_TRUE(from);
  EXPECT_EQ(from->why, "a damaged record");
  EXPECT_EQ(w.resume_size(), 0u);
  w.abort(storage::Partial::drop);
  EXPECT_FALSE(exists(dir / ".ferry-partial.g"));
  EXPECT_FALSE(exists(dir / ".ferry-ranges.g"));
}

TEST_F(PartialFiles, NothingWrittenLeavesNothingBehind) {
  {
    auto w = writer("empty");
    w.abort(storage::Partial::keep);
  }
  EXPECT_FALSE(exists(dir / ".ferry-partial.empty"));
}

TEST_F(PartialFiles, ASweepRemovesExpiredUnheldPartialDataAndOrphanRecords) {
  auto age = [&](const std::string& name, int days) {
    const timespec t[2] = {{::time(nullptr) - days * 86400, 0},
                           {::time(nullptr) - days * 86400, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, (dir / name).c_str(), t, 0), 0) << name;
  };
  write_file(dir / ".ferry-partial.old", "x");
  write_file(dir / ".ferry-ranges.old", "x");
  write_file(dir / ".ferry-partial.fresh", "x");
  write_file(dir / ".ferry-ranges.fresh", "x");
  write_file(dir / ".ferry-ranges.orphan", "x");
  age(".ferry-partial.old", 3);
  age(".ferry-ranges.old", 3);
  age(".ferry-ranges.orphan", 1);
  auto held = writer("held");  // being written: kept however old
  ASSERT_TRUE(held.pwrite_all(as_bytes("y"), 0));
  age(".ferry-partial.held", 3);
  auto swept = sandbox->remove_stale_temporaries(std::chrono::hours(48));
  ASSERT_TRUE(swept);
  EXPECT_EQ(*swept, 3u);
  EXPECT_FALSE(exists(dir / ".ferry-partial.old"));
  EXPECT_FALSE(exists(dir / ".ferry-ranges.old"));
  EXPECT_FALSE(exists(dir / ".ferry-ranges.orphan"));
  EXPECT_TRUE(exists(dir / ".ferry-partial.fresh"));
  EXPECT_TRUE(exists(dir / ".ferry-ranges.fresh"));
  EXPECT_TRUE(exists(dir / ".ferry-partial.held"));
}

}  // namespace
}  // namespace ferry::test
