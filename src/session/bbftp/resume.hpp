// The bbftp extension's resume (docs/protocol/bbftp-extended.md, section 6), the parts the
// daemon and the client share whichever of them receives: the receiver offers the blocks of its
// partial data that still match their record, the sender answers with the offered ranges its
// own file matches, the plan moves only the rest, and the receiver's record grows by one
// journal entry per block that arrives (at most the blocks being written are lost to a kill).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "proto/bbftp/extension.hpp"
#include "proto/bbftp/transfer_plan.hpp"
#include "storage/atomic_writer.hpp"
#include "storage/checksum.hpp"
#include "storage/partial.hpp"

namespace ferry::session {

// How long reading partial data (or the sender's file, to check an offer) may hold a transfer
// before it starts: what is not read in time is not offered (or not answered) and moves again.
inline constexpr std::chrono::seconds kResumeReadBudget{60};

// The receiver's offer: the ranges of its partial data that still match the record (with the
// XXH3-64 of each), and the blocks behind them.
struct PartialOffer {
  bbftp::ext::ExtResume offer;
  std::map<std::uint64_t, std::uint64_t> blocks;  // index -> XXH3-64, the verified ones
  std::uint64_t bad_blocks = 0;                   // recorded, but their bytes differ now
  std::string why;                                // why nothing is offered (for the log)
};
// Reads `writer`'s partial data against its record for a file of `size` bytes (nothing: the
// size the record gives, a get's client that does not know it yet). Partial data that cannot be
// used (none, no record, another size) is started over, and the offer is empty.
storage::Result<PartialOffer> offer_partial(storage::AtomicWriter& writer,
                                            std::optional<std::uint64_t> size,
                                            std::chrono::milliseconds budget = kResumeReadBudget);

// The sender's answer to `offer` for its `file` of `size` bytes: the offered ranges whose bytes
// hash the same here. The answered blocks' sums (`digest`, for the whole-file checksum) go in
// `sums`, by index.
storage::Result<bbftp::ext::ExtResume> answer_offer(
    const storage::File& file, std::uint64_t size, const bbftp::ext::ExtResume& offer,
    storage::Digest digest, std::vector<std::vector<std::uint8_t>>& sums,
    std::chrono::milliseconds budget = kResumeReadBudget);

// The receiver's sums (`digest`) of the answered blocks, which it does not receive again: the
// record's XXH3-64 (checked by offer_partial) or, for SHA-256, read again.
storage::Result<void> answered_sums(const storage::File& file, const bbftp::ext::ExtResume& answer,
                                    const std::map<std::uint64_t, std::uint64_t>& blocks,
                                    storage::Digest digest,
                                    std::vector<std::vector<std::uint8_t>>& sums);

// The receiver's record for the transfer: the answered blocks as its snapshot, then a journal
// entry per block that arrives (record_entry gives its XXH3-64).
storage::Result<storage::RecordJournal> start_record(
    const storage::AtomicWriter& writer, const bbftp::ext::ExtResume& answer,
    const std::map<std::uint64_t, std::uint64_t>& blocks);
std::uint64_t record_entry(storage::Digest digest, Bytes data,
                           const std::vector<std::uint8_t>& sum);

// The answered ranges, as the plan skips them.
std::vector<bbftp::Segment> present_segments(const bbftp::ext::ExtResume& answer);

}  // namespace ferry::session
