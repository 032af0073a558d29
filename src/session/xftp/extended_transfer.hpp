// An extended-mode XFTP transfer over a real UDP socket (docs/protocol/xftp-extended.md,
// "Transfers"): the pure sender and receiver cores (proto/xftp/transfer) driven by the clock and
// by what arrives, their datagrams framed with the connection's IDs and, with a key, sealed.
// Shared by xftpd and xftp: whichever side has the file sends it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "crypto/xftp_keys.hpp"
#include "io/socket.hpp"
#include "proto/xftp/extended.hpp"
#include "proto/xftp/transfer.hpp"
#include "session/xftp/transfer.hpp"
#include "storage/file.hpp"

namespace ferry::session {

// How a connection's datagrams look on the wire, seen from one end.
struct ExtendedFraming {
  xftp::ext::ConnectionId peer_connection{};      // in the headers we send
  xftp::ext::ConnectionId our_connection{};       // expected in the headers we receive
  std::atomic<std::uint64_t>* packets = nullptr;  // our next packet number (the connection's)
  const crypto::XftpSealer* seal = nullptr;       // our direction's key; none: clear
  const crypto::XftpSealer* open = nullptr;       // the peer's
};

// Datagrams dropped, by reason (a stranger's, a malformed one, one that fails its tag, one for
// another connection or transfer).
struct DropCounts {
  std::atomic<std::uint64_t> stranger{0};
  std::atomic<std::uint64_t> malformed{0};
  std::atomic<std::uint64_t> unauthentic{0};
  std::atomic<std::uint64_t> elsewhere{0};

  std::uint64_t total() const noexcept {
    return stranger.load() + malformed.load() + unauthentic.load() + elsewhere.load();
  }
  // "3 from another address, 20 failing their tag" (the non-zero counts), for the log.
  std::string summary() const;
  void add_to(DropCounts& other) const noexcept;
};

// The whole file's XXH3-128 as END carries it.
Result<xftp::ext::Checksum, TransferError> whole_file_checksum(const storage::File& file);

std::vector<std::uint8_t> frame(const ExtendedFraming& f, xftp::ext::Type type,
                                const xftp::ext::Body& body);
// The datagram, if it is one of this connection's and (with a key) authentic; else counted.
std::optional<xftp::ext::Datagram> unframe(const ExtendedFraming& f, Bytes datagram,
                                           DropCounts& drops);

struct ExtendedTransferOptions {
  const std::atomic<bool>* stop = nullptr;           // checked at least every 100 ms
  std::function<void(std::uint64_t done)> progress;  // bytes acknowledged / in place
  DropCounts* drops = nullptr;
  // After its verdict, the receiver stays this long past the sender's last datagram, to answer
  // an END whose END_OK was lost.
  std::chrono::milliseconds linger{2000};
  // Receivers: the blocks hashed so far (in file order, as they became contiguous), at most
  // every `checkpoint_every` and once more when the transfer ends without the file in place, so
  // the host can save its partial record (storage/partial.hpp) for a resume.
  std::function<void(const std::map<std::uint64_t, std::uint64_t>& blocks)> checkpoint;
  std::chrono::milliseconds checkpoint_every{250};
};

// Sends `file` to `peer` from `fd` with `core` until the receiver's END_OK (or a failure).
Result<xftp::ext::EndStatus, TransferError> send_extended(int fd, const io::SocketAddress& peer,
                                                          const storage::File& file,
                                                          xftp::TransferSender& core,
                                                          const ExtendedFraming& framing,
                                                          const ExtendedTransferOptions& options);

// Receives into `file` from `peer` on `fd` with `core`. What arrives is hashed in file order as
// it becomes contiguous (bytes the core was told are present included: they are read back), so
// the sender's END is checked without reading the whole file again; only when it matches is
// `commit` called to put the file in place (true: done). The verdict goes back in END_OK.
Result<xftp::ext::EndStatus, TransferError> receive_extended(
    int fd, const io::SocketAddress& peer, const storage::File& file, xftp::TransferReceiver& core,
    const ExtendedFraming& framing, const std::function<bool()>& commit,
    const ExtendedTransferOptions& options);

}  // namespace ferry::session
