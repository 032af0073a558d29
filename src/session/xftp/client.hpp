// The XFTP client in legacy mode (spec section 3, "Client"): talks to the original server and to
// ours. One random ID per client; replies accepted only from the address asked, with the request's
// CMD and ID echoed; data of a download that overtakes the OK reply is kept. Stop-and-wait only:
// UPLOAD and DOWNLOAD requests are sent once and never repeated (an original server would start a
// second transfer); LIST, DELETE, MKDIR and MOVE are repeated while unanswered, which is safe
// (LIST is read-only, our server answers a repeated request from memory, and the original server
// never answers the other three at all).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/unique_fd.hpp"
#include "io/socket.hpp"
#include "proto/xftp/extended_commands.hpp"
#include "proto/xftp/legacy.hpp"
#include "storage/atomic_writer.hpp"
#include "storage/file.hpp"

namespace ferry::session {

struct XftpClientOptions {
  io::Timeout timeout{std::chrono::seconds(30)};  // for a reply, and for silence in a transfer
  io::Timeout first_retry{std::chrono::milliseconds(500)};  // then doubling, for LIST & co.
  const std::atomic<bool>* stop = nullptr;  // set (by a signal handler) to give up at once
  std::chrono::microseconds busy_poll{50};  // see StopAndWaitOptions
  // Extended mode (docs/protocol/xftp-extended.md) is tried first: HELLO `hello_tries` times,
  // `hello_wait` apart; a server that never answers (the original) is spoken to in legacy mode.
  // With a key there is no such fallback (it would send in clear). `legacy`: legacy only.
  bool legacy = false;
  std::optional<std::vector<std::uint8_t>> key;
  int hello_tries = 3;
  io::Timeout hello_wait{std::chrono::milliseconds(250)};
  // Extended mode: continue from what an earlier attempt delivered (checked first); false
  // sends everything again.
  bool resume = true;
};

struct XftpClientError {
  enum class Kind {
    refused,      // the server answered with an error status (`status`)
    no_reply,     // nothing came back in time
    network,      // a socket error, or nothing listens at the address (ICMP port unreachable)
    local_file,   // reading or writing the local file failed
    protocol,     // the server said something that makes no sense (an OK without a port)
    interrupted,  // `stop` was set
  };
  Kind kind = Kind::network;
  xftp::Status status = xftp::Status::ok;
  int sys_errno = 0;
  std::string message;
};

template <class T>
using XftpResult = Result<T, XftpClientError>;

using TransferProgress = std::function<void(std::uint64_t bytes)>;
using DownloadStarted = std::function<void(std::uint64_t size, std::uint64_t resumed)>;

class XftpClient {
 public:
  // Resolves `host` ("localhost", names, IPv4, IPv6); the first address that does not turn out
  // to be closed is used for the whole session.
  static XftpResult<XftpClient> open(std::string_view host, std::uint16_t port,
                                     XftpClientOptions options = {});

  XftpResult<xftp::Listing> list(std::string_view path);
  XftpResult<void> remove(std::string_view path);
  XftpResult<void> mkdir(std::string_view path);
  XftpResult<void> move(std::string_view from, std::string_view to);
  // Sends `source` as `remote`; returns the bytes acknowledged by the server.
  XftpResult<std::uint64_t> upload(const storage::File& source, std::string_view remote,
                                   const TransferProgress& progress = {});
  // Receives `remote` into `into` (not committed: the caller renames it into place).
  // In extended mode with a resumable `into`, what an earlier attempt left in it is checked and
  // only the rest is asked for; what arrives is recorded there for the next attempt.
  // `started`: the file's size and how many of its bytes were there already, once known.
  XftpResult<std::uint64_t> download(std::string_view remote, storage::AtomicWriter& into,
                                     const TransferProgress& progress = {},
                                     const DownloadStarted& started = {});
  // Bytes of the last upload or download that an earlier attempt had delivered (resume).
  std::uint64_t resumed_bytes() const noexcept { return resumed_; }

  std::string server() const;  // "127.0.0.1:2333" once known, else the first address
  bool extended() const noexcept { return ext_ != nullptr; }  // else legacy
  // Transfers continue from what an earlier attempt delivered (extended mode, not --no-resume).
  bool resumes() const noexcept { return extended() && options_.resume; }

 private:
  XftpClient() = default;
  struct Extended;
  XftpResult<void> negotiate();
  XftpResult<xftp::ext::Reply> ext_request(xftp::ext::Command command,
                                           const xftp::ext::RequestFields& fields);
  // A request and the fields of its OK reply; a refusal (or an unreadable reply: `what`) as
  // the error.
  XftpResult<xftp::ext::ReplyFields> ext_call(xftp::ext::Command command,
                                              const xftp::ext::RequestFields& fields,
                                              const char* what);
  XftpResult<void> ext_simple(xftp::ext::Command command, const xftp::ext::RequestFields& fields);
  XftpResult<xftp::Listing> ext_list(std::string_view path);
  XftpResult<std::uint64_t> ext_upload(const storage::File& source, std::string_view remote,
                                       const TransferProgress& progress);
  XftpResult<std::uint64_t> ext_download(std::string_view remote, storage::AtomicWriter& into,
                                         const TransferProgress& progress,
                                         const DownloadStarted& started);
  // Tells the server's data port at `peer` that `transfer` is given up.
  void ext_abort(const io::SocketAddress& peer, std::uint32_t transfer, std::string reason);
  struct Early {
    std::uint16_t port;
    std::string bytes;
  };
  XftpResult<xftp::Datagram> exchange(xftp::Command command, std::string data, bool may_repeat,
                                      std::vector<Early>* early = nullptr);
  XftpResult<xftp::Datagram> exchange_with(const io::SocketAddress& to,
                                           const std::vector<std::uint8_t>& request,
                                           xftp::Command command, bool may_repeat,
                                           std::vector<Early>* early);
  XftpResult<void> simple(xftp::Command command, std::string data);
  XftpResult<io::SocketAddress> data_peer(const xftp::Datagram& reply) const;

  XftpClientOptions options_;
  std::vector<io::SocketAddress> candidates_;  // until one has answered
  io::SocketAddress server_;
  bool settled_ = false;
  UniqueFd fd_;
  xftp::Id id_{};
  std::shared_ptr<Extended> ext_;  // set when the server answered HELLO
  std::uint64_t resumed_ = 0;
};

// A message for a refusal, e.g. "not found on the server" for NOT_FOUND.
std::string describe(xftp::Status status);

}  // namespace ferry::session
