// bbftp data streams: one TCP connection moves one contiguous segment of the file. Raw, or (with
// TROPT_GZIP) as blocks of mess_compress{code, datalen} + zlib compress() output. The receiver
// acknowledges its complete segment with MSG_ACK on the same socket; the sender waits for it.
// Shared by bbftpd and the bbftp client, in both directions.
//
// With the bbftp extension's checksums (our peers only; docs/protocol/bbftp-extended.md,
// section 7) the segment moves in integrity blocks (1 MiB), each followed by its sum; the
// receiver answers MSG_ACK when every block matched, or MSG_EXT_RESEND with the blocks that did
// not, which come again (at most kMaxResendRounds times); a block read again that differs from
// its first read means the file changed while being sent.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "io/socket.hpp"
#include "storage/checksum.hpp"
#include "storage/file.hpp"

namespace ferry::session {

class SumsAhead;

struct StreamError {
  int sys_errno = 0;  // ENOSPC/EDQUOT mean a full disk, EILSEQ a corrupt block, 0 a closed peer
  std::string message;
  bool no_space() const noexcept { return sys_errno == ENOSPC || sys_errno == EDQUOT; }
};
template <class T>
using StreamResult = ferry::Result<T, StreamError>;

struct StreamSpec {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::size_t block_size = 256 * 1024;  // buffersizeperstream
  bool compressed = false;
  io::Timeout data_timeout{300000};  // setdatato
  io::Timeout ack_timeout{100000};   // setackto
  // When set, the bytes of the file moved so far are added to it as they go (for a progress
  // display; shared by every stream of a transfer).
  std::atomic<std::uint64_t>* moved = nullptr;
  // The extension's checked stream (digest xxh3_64 or sha256): instead of [offset, offset +
  // length), the integrity blocks `blocks` of the file (indexes, in the order they move), each
  // followed by its sum. Their sums are left in `(*sums)[index]` (sized by the caller; streams
  // fill their own blocks), the blocks sent again counted in `resent`, and the receiver calls
  // `arrived` for each block written and matching its sum (a resume's record of it).
  struct Check {
    storage::Digest digest = storage::Digest::xxh3_64;
    std::uint64_t block = 1 << 20;
    std::uint64_t file_size = 0;
    std::vector<std::uint64_t> blocks;
    std::vector<std::vector<std::uint8_t>>* sums = nullptr;
    std::uint64_t* resent = nullptr;
    std::function<void(std::uint64_t index, Bytes data, const std::vector<std::uint8_t>& sum)>
        arrived;
    // A sender's sums computed ahead (sums_ahead.hpp): a block it has is sent from the page
    // cache (sendfile) with that sum. Not with compression, which reads every block anyway.
    SumsAhead* ahead = nullptr;
  };
  std::optional<Check> check;
};

// What says a file is the one that was opened: its size and its modification and change times,
// to the nanosecond.
struct FileVersion {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  bool operator==(const FileVersion&) const = default;
};
std::optional<FileVersion> file_version(const storage::File& file);

// The extension's digests for a session's transfers: the block sums', the whole file's, and
// the whole file's code in MSG_EXT_SUM (1 XXH3-128, 2 SHA-256).
struct ChecksumKind {
  storage::Digest block = storage::Digest::xxh3_64;
  storage::Digest whole = storage::Digest::xxh3_128;
  std::uint8_t code = 1;
  static ChecksumKind of(bool sha256) noexcept {
    if (sha256) return {storage::Digest::sha256, storage::Digest::sha256, 2};
    return {};
  }
};

// The extension's whole-file checksum: `whole` (xxh3_128 or sha256) over the size (u64), the
// block size (u32) and every block's sum in file order.
std::vector<std::uint8_t> whole_file_sum(storage::Digest whole, std::uint64_t size,
                                         std::uint64_t block,
                                         const std::vector<std::vector<std::uint8_t>>& sums);

// Sends [offset, offset+length) of `file` on `sock`, then waits for the receiver's MSG_ACK.
StreamResult<void> send_segment(int sock, const storage::File& file, const StreamSpec& spec);
// Receives the segment into `file` at its offset, then sends MSG_ACK.
StreamResult<void> receive_segment(int sock, const storage::File& file, const StreamSpec& spec);

}  // namespace ferry::session
