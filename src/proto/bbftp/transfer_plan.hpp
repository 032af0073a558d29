// How a bbftp transfer is laid over its data streams, as both real peers lay it: how many
// streams a file gets, which contiguous segment each moves, in blocks of what size. Pure: the
// client and the daemon plan with it, the session layer (session/bbftp/data_channel) carries it
// out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "proto/bbftp/messages.hpp"

namespace ferry::bbftp {

// The split of a file over n streams: per = size / n; stream i covers [i*per, i*per+per), the
// last one gets the remainder.
struct Segment {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bool operator==(const Segment&) const = default;
};
Segment segment_of(std::uint64_t size, int streams, int index) noexcept;
// max(1, min(requested, size / (buffer KB * 1024), max_streams)), the number of streams a
// transfer of `size` bytes uses.
int streams_for(std::int64_t size, int requested, int buffer_kb, int max_streams) noexcept;

// Protocol 1 moves blocks of at most READBUFLEN = 256000 bytes; the real receiver's buffer is
// exactly that big.
inline constexpr std::size_t kV1BlockBytes = 256000;

struct TransferPlan {
  std::uint64_t size = 0;
  std::vector<Segment> segments;  // one per stream, in stream order
  std::size_t block_bytes = 0;    // read / compress granularity (buffersizeperstream)
  bool compressed = false;        // TROPT_GZIP: zlib blocks
  bool qbss = false;              // TROPT_QBSS: data packets marked IP TOS 0x20
  // The extension: the integrity block and, per stream, the blocks it moves (plan_blocks).
  std::uint64_t integrity_block = 0;
  std::vector<std::vector<std::uint64_t>> blocks;
  std::uint64_t planned_bytes() const noexcept;  // the bytes `blocks` move (all: `size`)
};
// The plan for `size` bytes over `streams` streams with the transfer's options; the block size
// is the buffer size it agreed (KB), or `block_bytes` when given (protocol 1's fixed one).
TransferPlan plan_transfer(std::uint64_t size, int streams, int buffer_kb,
                           std::uint32_t transferoption, std::size_t block_bytes = 0);
// The bbftp extension's plan (our peers only), in whole integrity blocks of `block` bytes: the
// blocks of the file that are not in `present` (ranges of whole blocks, ascending: what a
// resumed transfer has already), dealt to the plan's streams in runs of consecutive missing
// blocks, as evenly as possible (the first streams get one more). A stream moves its blocks in
// that order; one with none opens and closes with nothing to move.
void plan_blocks(TransferPlan& plan, std::uint64_t block, const std::vector<Segment>& present = {});

}  // namespace ferry::bbftp
