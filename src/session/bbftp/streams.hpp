// bbftp data streams: one TCP connection moves one contiguous segment of the file. Raw, or (with
// TROPT_GZIP) as blocks of mess_compress{code, datalen} + zlib compress() output. The receiver
// acknowledges its complete segment with MSG_ACK on the same socket; the sender waits for it.
// Shared by bbftpd and the bbftp client, in both directions.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>

#include "io/socket.hpp"
#include "storage/file.hpp"

namespace ferry::session {

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
};

// Sends [offset, offset+length) of `file` on `sock`, then waits for the receiver's MSG_ACK.
StreamResult<void> send_segment(int sock, const storage::File& file, const StreamSpec& spec);
// Receives the segment into `file` at its offset, then sends MSG_ACK.
StreamResult<void> receive_segment(int sock, const storage::File& file, const StreamSpec& spec);

}  // namespace ferry::session
