// The client side of a bbftp control connection: login, negotiation, commands, and transfers
// over parallel data streams. Blocking; one instance per server connection.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/unique_fd.hpp"
#include "crypto/bbftp_channel.hpp"
#include "crypto/host_key.hpp"
#include "io/process.hpp"
#include "io/socket.hpp"
#include "proto/bbftp/client_session.hpp"
#include "proto/bbftp/extension.hpp"
#include "proto/bbftp/messages.hpp"
#include "session/bbftp/data_channel.hpp"
#include "session/bbftp/streams.hpp"
#include "storage/sandbox.hpp"

namespace ferry::session {

// The real client's error numbers (BBFTP-ERROR-000NN) that scripts see as exit codes.
namespace client_error {
inline constexpr int kConnect = 52;     // cannot connect to control socket
inline constexpr int kBroken = 34;      // connection broken / killed
inline constexpr int kMaxTries = 33;    // maximum try on connection reached
inline constexpr int kUnexpected = 62;  // unknown message while waiting for a reply
inline constexpr int kIncompatible = 101;
inline constexpr int kLocal = 21;      // local file error
inline constexpr int kLocalStat = 72;  // the local file of a put cannot be stat()ed
// The directory of a get's local file (the real client's codes):
inline constexpr int kLocalEndsWithSlash = 74;
inline constexpr int kLocalNoCreateDir = 75;  // missing, and the createdir option is off
inline constexpr int kLocalMkdir = 82;
inline constexpr int kLocalIsDirectory = 73;  // a put's file, or a get's without tmpfile
inline constexpr int kLocalRename = 81;       // a get's file, with tmpfile (the rename fails)
// ssh mode (the real client's codes):
inline constexpr int kSshStart = 46;  // the ssh command could not be run
inline constexpr int kSshCheck = 48;  // the check connection to the daemon failed
inline constexpr int kSshHello = 61;  // no MSG_LOGGED_STDIN / MSG_IPADDR_OK
inline constexpr int kServer = 100;   // the server refused, with its text
// The bbftp extension: the server's identity could not be trusted (a changed host key, a
// pinned server that no longer announces it, a bad signature); nothing secret was sent.
inline constexpr int kIdentity = 102;
}  // namespace client_error

struct ClientConfig {
  std::string host;
  std::uint16_t port = 5021;
  std::string user;
  std::string password;
  int min_protocol = 2;
  int max_protocol = 3;  // 1: speak protocol 1 (no negotiation; the daemon must support it)
  io::Timeout connect_timeout{std::chrono::seconds(60)};
  io::Timeout control_timeout{std::chrono::seconds(180)};
  io::Timeout data_timeout{std::chrono::seconds(300)};
  io::Timeout ack_timeout{std::chrono::seconds(100)};
  std::function<void(const std::string&)> on_info;  // MSG_INFO texts during transfers
  // ssh mode (bbftp -s): the command that starts "bbftpd -s" on the server ("ssh -q ... host
  // bbftpd -s"); its standard input and output carry the control connection instead of a TCP
  // connection and a password login. Data connections still go to `host` over TCP.
  std::vector<std::string> ssh_command;
  // A control connection the caller opened itself, used instead of connecting to `host` (a
  // password login over it) or of running `ssh_command` (ssh mode over it, when `ssh_channel`):
  // a tunnel of the caller's own, or a test's socket pair. It is duplicated at each connect; the
  // caller closes its own descriptor.
  int control_channel = -1;
  bool ssh_channel = false;
  // Protocols 1 and 2 (the client listens): the local port range (-D P0:P1); 0: any port.
  std::uint16_t data_port_first = 0;
  std::uint16_t data_port_last = 0;
  // During a put or get: the bytes moved so far and the file's size, about ten times a second
  // and once at the end (for a progress display).
  ProgressFn on_progress;
  // The bbftp extension (docs/protocol/bbftp-extended.md), used when the daemon announces it.
  bool extension = true;
  // The extension's end-to-end checksums (docs/protocol/bbftp-extended.md, section 7): block
  // sums with repair and a whole-file checksum compared before the final rename.
  enum class Checksum { xxh3, sha256, off };
  Checksum checksum = Checksum::xxh3;
  // Whether to trust the daemon, given its host key (it signed the announcement: checked
  // before) or nothing (it announced no extension): the refusal's text, or nothing to go on.
  // Unset: any daemon is trusted (tests; the client program pins keys in known_hosts).
  std::function<std::optional<std::string>(const std::optional<crypto::PublicKey>&)> check_identity;
};

struct TransferSettings {
  int streams = 1;
  int buffer_kb = 256;
  int send_window_kb = 256;
  int recv_window_kb = 256;
  // The windows above as the data sockets' SO_SNDBUF / SO_RCVBUF, as the real client does; off
  // by default (the kernel's autotuning does better), on once set explicitly (setsendwinsize,
  // setrecvwinsize).
  bool apply_windows = false;
  std::uint32_t options = bbftp::tropt::kClientDefault;  // TROPT bits
  bool simulate = false;
  // The extension: continue from what a failed transfer of the same file left on the receiving
  // side (docs/protocol/bbftp-extended.md, section 6). Without it, that partial data is started
  // over; with a daemon without the extension there is none.
  bool resume = false;
};

struct Outcome {
  enum Kind {
    ok,
    refused,        // MSG_BAD_NO_RETRY: permanent, connection kept
    retry,          // MSG_BAD: transient, connection kept
    broken,         // the connection is gone or out of step
    local_failure,  // a local file could not be read or written
  };
  Kind kind = ok;
  int error = 0;     // client_error number when not ok
  std::string text;  // the server's reply text, or our own error message
  // Filled by the commands that have them.
  std::vector<bbftp::ListEntry> listing;
  std::uint64_t bytes = 0;
  double seconds = 0;
  int streams = 0;
  std::string checksum;             // the extension: "xxh3-128 HEX" (or "sha256 HEX") of the file
  std::uint64_t blocks_resent = 0;  // the extension: blocks that arrived bad and came again
  std::uint64_t resumed_bytes = 0;  // the extension: bytes a resume did not move again
  explicit operator bool() const noexcept { return kind == ok; }
};

class BbftpClient {
 public:
  explicit BbftpClient(ClientConfig config) : config_(std::move(config)) {}
  // The timeouts of the next exchanges (set... commands of a running session).
  void set_timeouts(io::Timeout control, io::Timeout data, io::Timeout ack) noexcept {
    config_.control_timeout = control;
    config_.data_timeout = data;
    config_.ack_timeout = ack;
  }

  // Connects, logs in and negotiates the protocol. The server's greeting is in `text`.
  Outcome connect();
  bool connected() const noexcept { return fd_.valid(); }
  // The extension's sealed channel is in use (our daemon announced it, we logged in through it).
  bool extended() const noexcept { return channel_.has_value(); }
  // What the negotiated protocol allows.
  bbftp::Features features() const noexcept { return session_.features(); }
  // Sends MSG_CLOSE_CONN and closes.
  void close();

  Outcome cd(const std::string& dir);
  Outcome mkdir(const std::string& dir, std::uint32_t options);
  Outcome list(const std::string& pattern, std::uint32_t options);  // "dir/*"
  Outcome rm(const std::string& path, std::uint32_t options);
  Outcome stat(const std::string& path, std::uint32_t options);
  Outcome df(const std::string& path, std::uint32_t options);
  Outcome set_umask(std::uint32_t mask);
  Outcome set_cos(std::int32_t cos);
  // The extension: a stored file's checksum ("xxh3-128 HEX" in `text`), as the daemon reads it.
  Outcome checksum(const std::string& path);

  Outcome put(const storage::Sandbox& local, const std::string& local_path,
              const std::string& remote_path, const TransferSettings& s);
  Outcome get(const storage::Sandbox& local, const std::string& remote_path,
              const std::string& local_path, const TransferSettings& s);

 private:
  bool send(const std::vector<bbftp::Message>& messages);
  std::optional<bbftp::Message> receive(io::Timeout timeout);
  Outcome simple(const bbftp::Message& request);
  // Feeds a reply (or its absence) to the session; the event, or a broken outcome.
  std::optional<bbftp::ClientEvent> next_event(io::Timeout timeout, Outcome& broken_out);
  Outcome outcome_of(const bbftp::ClientEvent& ev);
  // Waits for the end of a running transfer, passing MSG_INFO texts on.
  Outcome final_reply();
  Outcome broken(std::string why);
  Outcome put_v1(const storage::FileStat& st, const storage::File& file,
                 const std::string& remote_path, const TransferSettings& s);
  Outcome get_v1(const storage::Sandbox& local, const std::string& remote_path,
                 const std::string& local_path, const TransferSettings& s);
  // The endings every put and get share (protocols 1 to 3). `abort` is the protocol's abort code.
  using TimePoint = std::chrono::steady_clock::time_point;
  Outcome finish_put(const std::optional<StreamError>& failed, std::uint64_t bytes, int streams,
                     TimePoint started);
  Outcome finish_get(const std::optional<StreamError>& failed, storage::AtomicWriter& writer,
                     std::uint64_t bytes, int streams, TimePoint started);
  Outcome receive_empty(storage::AtomicWriter& writer, bbftp::MsgCode abort);
  Outcome cannot_create(const storage::Error& e, bbftp::MsgCode abort);
  // The directory a get writes into, checked (and created with the createdir option) as the real
  // client does once the server has accepted: a failure is aborted with the real client's code
  // and words.
  std::optional<Outcome> prepare_local_target(const storage::Sandbox& local,
                                              const std::string& local_path, std::uint32_t options,
                                              bbftp::MsgCode abort);
  ferry::Result<std::vector<UniqueFd>, Outcome> start_data(const bbftp::TransferPlan& plan,
                                                           const std::vector<std::uint32_t>& ports,
                                                           const TransferSettings& s,
                                                           bool simulate);
  // STORE_V2 / RETR_V2 and FILENAME, then the server's answer: the accepted transfer, or the
  // outcome to return (a refusal, a lost connection; for an empty put, its MSG_OK).
  // With `resume` (the extension's MSG_EXT_RESUME, sent first), the daemon's MSG_EXT_RESUME
  // before its TRANS_OK goes in `resumed` (a store's offer, a retrieve's answer).
  ferry::Result<bbftp::TransferReady, Outcome> request_transfer(
      bbftp::MsgCode code, const bbftp::TransferParams& p, const std::string& remote,
      const std::optional<bbftp::ext::ExtResume>& resume = std::nullopt,
      std::optional<bbftp::ext::ExtResume>* resumed = nullptr);
  DataEndpoint data_endpoint(const TransferSettings& s) const;
  // The extension's checksums are on for this session's transfers.
  bool checksums() const noexcept {
    return channel_ && (channel_->features() & bbftp::ext::feature::kChecksums) != 0 &&
           session_.version() >= 2;
  }
  bool sha256() const noexcept {
    return channel_ && (channel_->features() & bbftp::ext::feature::kSha256) != 0;
  }
  ChecksumKind checksum_kind() const noexcept { return ChecksumKind::of(sha256()); }
  // The extension's resume: a get's partial data kept, and offered when asked.
  bool resumable() const noexcept {
    return checksums() && (channel_->features() & bbftp::ext::feature::kResume) != 0;
  }
  // What a checked transfer does not move (`answer`), and the sums of those blocks.
  struct Resumed {
    bbftp::ext::ExtResume answer;
    std::vector<std::vector<std::uint8_t>> sums;
    std::map<std::uint64_t, std::uint64_t> verified;  // a get's: the record's blocks
  };
  Outcome put_checked(const storage::File& file, const std::string& local_path,
                      const bbftp::TransferPlan& plan, std::vector<UniqueFd>& socks, int streams,
                      TimePoint started, Resumed resumed, SumsAhead* ahead);
  // A put's sums hashed ahead of its streams (sums_ahead.hpp), when the transfer is checked.
  void hash_ahead(std::optional<SumsAhead>& ahead, const storage::File& file,
                  const bbftp::TransferPlan& plan, const TransferSettings& s);
  Outcome get_checked(storage::AtomicWriter& writer, const bbftp::TransferPlan& plan,
                      std::vector<UniqueFd>& socks, int streams, TimePoint started,
                      Resumed resumed);
  StreamTimeouts stream_timeouts() const { return {config_.data_timeout, config_.ack_timeout}; }
  // The plan of an accepted transfer; the QBSS marking is what this client was asked for (-q),
  // whatever the server echoed.
  // A server that accepts fewer than one stream, or more than asked, is out of step.
  static bool sane_streams(const bbftp::TransferParams& accepted, int requested) {
    return accepted.nbstream >= 1 && accepted.nbstream <= std::max(requested, 1);
  }
  static bbftp::TransferPlan plan_for(std::uint64_t size, const bbftp::TransferParams& accepted,
                                      const TransferSettings& s) {
    auto plan =
        bbftp::plan_transfer(size, accepted.nbstream, accepted.buffersize, accepted.transferoption);
    plan.qbss = (s.options & bbftp::tropt::kQbss) != 0;
    return plan;
  }

  Outcome v1_accept_failed(const DataOpenError& e);
  Outcome connect_tcp_login();
  // The daemon's announcement checked (signature, pin): nothing, or the refusal to return.
  std::optional<Outcome> check_identity(const bbftp::CryptKey& key,
                                        const std::optional<crypto::PublicKey>& host_key);
  // MSG_EXT_LOGIN instead of MSG_LOG, then the sealed MSG_EXT_LOGIN_OK.
  Outcome ext_login(const bbftp::CryptKey& key);
  Outcome connect_ssh();
  // From MSG_LOGGED_STDIN to the negotiation, over the ssh channel in fd_.
  Outcome ssh_hello();
  io::Result<UniqueFd> own_channel() const;
  // MSG_PROT (protocols 2 and 3) once logged in; `greeting` is returned when it succeeds.
  Outcome negotiate(Outcome greeting);

  ClientConfig config_;
  io::ChildProcess ssh_;  // ssh mode: the ssh command, whose socket is fd_
  UniqueFd fd_;
  bbftp::ClientSession session_{2, 3};
  std::vector<std::byte> in_;
  std::optional<crypto::BbftpChannel> channel_;  // the extension's sealed control channel
  std::uint32_t transfers_ = 0;        // transfers with data so far (their streams' proofs)
  std::uint32_t transfer_number_ = 0;  // the running transfer's
  io::SocketAddress server_;
  io::SocketAddress local_;
};

}  // namespace ferry::session
