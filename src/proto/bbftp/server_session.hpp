// The daemon's side of a bbftp control connection as a state machine without I/O.
//
// The host frames incoming bytes with context(), feeds each message to on_message(), and gets a
// Step back: replies to send, and possibly a request to carry out (check a login, change
// directory, store a file ...). It reports the outcome through the matching call (login_result,
// accept_transfer, reject, transfer_finished), which returns the replies for it. The session
// enforces the protocol's order (login, negotiation, STORE_V2 then FILENAME then TRANS_START)
// and sends exactly one reply per request group.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "proto/bbftp/codec.hpp"
#include "proto/bbftp/features.hpp"
#include "proto/bbftp/messages.hpp"
#include "proto/bbftp/transfer_plan.hpp"

namespace ferry::bbftp {

struct ServerConfig {
  std::string version = "3.3.0";  // as "bbftpd version <version> : OK"
  int min_protocol = 2;           // 1 when protocol 1 is served
  int max_protocol = 3;
  int max_streams = 25;           // -m
  bool allow_clear_text = false;  // -u
  bool allow_status = false;      // MSG_SERVER_STATUS before login
  // The bbftp extension was announced in MSG_CRYPT: MSG_EXT_LOGIN may replace MSG_LOG.
  bool extension = false;
};

enum class ServerState {
  awaiting_login,
  awaiting_protocol,  // logged in; MSG_PROT (or a protocol-1 command) comes next
  logged,
  awaiting_filename,  // after STORE_V2 / RETR_V2
  deciding,           // the host is checking a store / retrieve
  awaiting_start,     // TRANS_OK sent; TRANS_START, SIMUL or ABORT comes next
  awaiting_create_zero,
  awaiting_retr_start,  // protocol 1: RETR_OK sent; RETR_START (or CREATE_ZERO / ABR) next
  transferring,
  awaiting_sum,  // the extension: a store's data has arrived; the client's MSG_EXT_SUM next
  closed,
};
const char* to_string(ServerState s) noexcept;

// Requests for the host.
struct LoginRequest {
  Login login;
  bool clear_text = false;  // user/pass are NUL-terminated text, not ciphertexts
};
// MSG_EXT_LOGIN (docs/protocol/bbftp-extended.md): its payload, for the host to open.
struct ExtLoginRequest {
  std::vector<std::uint8_t> payload;
};
struct StatusRequest {};
// The directory commands, each its own value: the host's switch over them is checked by the
// compiler (-Wswitch), where a switch over message codes would need a default.
enum class DirOp { chdir, mkdir, list, rm, stat, df };
struct DirRequest {  // chdir, mkdir (recursive when TROPT_DIR), list, rm, stat, df
  DirOp op{};
  std::string path;
  std::uint32_t transferoption = 0;
};
struct UmaskRequest {
  std::uint32_t mask = 0;
};
struct TransferRequest {  // a store (put) or a retrieve (get), after its FILENAME
  bool store = true;
  TransferParams params;  // options masked, nbstream clamped
  std::string path;
  // The client asked for QBSS (a store's echo drops the option, as the real daemon's does; our
  // data sockets are marked all the same, at both ends).
  bool qbss = false;
  // The extension: the MSG_EXT_RESUME payload that came just before (a store: the client would
  // resume, empty; a retrieve: its offer), for the host to decode.
  std::optional<std::vector<std::uint8_t>> resume;
};
struct StartRequest {  // TRANS_START: move the data now
  bool simulate = false;
  std::vector<std::uint32_t> client_ports;  // protocol 2: where to connect
  TransferParams params;                    // as accepted (accept_transfer's echo)
};
struct AbortRequest {};  // MSG_ABORT before TRANS_START: drop the prepared file
// The extension: the client's MSG_EXT_SUM after a store's data (its payload, for the host).
struct SumRequest {
  std::vector<std::uint8_t> payload;
};
// The extension: the client's answer to a store's offer (MSG_EXT_RESUME, before TRANS_START).
struct ResumeAnswerRequest {
  std::vector<std::uint8_t> payload;
};
// The extension's MSG_EXT_CHECKSUM: a stored file's checksum, computed by reading it.
struct ChecksumRequest {
  std::string path;
};
// Protocol 1: the client listens; the daemon connects to `ports` (at the control peer's address).
struct V1TransferRequest {
  bool store = true;
  bool compressed = false;
  std::string path;
  std::int64_t filesize = 0;  // store only
  std::vector<std::uint32_t> ports;
};
// Protocol 1's RETR_START after RETR_OK: send the file now, `filesize` bytes (what RETR_OK said).
struct V1RetrieveStart {
  V1TransferRequest transfer;
  std::int64_t filesize = 0;
};
// Protocol 1 MKDIR (not recursive), CHDIR and LIST (a glob pattern).
enum class V1DirOp { mkdir, chdir, list };
struct V1DirRequest {
  V1DirOp op{};
  std::string path;
};
using Request =
    std::variant<LoginRequest, ExtLoginRequest, StatusRequest, DirRequest, UmaskRequest,
                 TransferRequest, StartRequest, AbortRequest, SumRequest, ResumeAnswerRequest,
                 ChecksumRequest, V1TransferRequest, V1RetrieveStart, V1DirRequest>;

struct Step {
  std::vector<Message> replies;
  std::optional<Request> request;
  bool close = false;  // close the connection after sending the replies
};

class ServerSession {
 public:
  explicit ServerSession(ServerConfig config) : config_(std::move(config)) {}

  ServerState state() const noexcept { return state_; }
  int version() const noexcept { return version_; }
  Features features() const noexcept { return Features::of(version_); }
  // How to frame the next incoming bytes.
  Context context(std::size_t max_payload = std::size_t{1} << 20) const noexcept;

  Step on_message(const Message& m);
  // A framing error from the host's decoder: answered, and the connection closes.
  Step on_protocol_error(Errc e);

  // ssh mode (bbftpd -s): ssh authenticated the user and the check connection proved the
  // client's address; the session starts logged in, with nothing to send (no MSG_OK).
  void started_by_ssh() noexcept { state_ = ServerState::awaiting_protocol; }

  // Outcomes of requests.
  Step login_result(bool accepted);
  // An accepted MSG_EXT_LOGIN: MSG_EXT_LOGIN_OK, with the features accepted (the host seals it).
  Step ext_login_accepted(std::uint32_t features);
  // The login is refused with `reply` instead of the usual one (busy: MSG_BAD, the client
  // retries later); the connection closes.
  Step login_refused(Message reply);
  // A store or retrieve the host accepted: `echo` is what goes back in TRANS_OK (real size,
  // mode and times for a retrieve), `ports` the passive data ports (protocol 3, filesize > 0).
  // A store of an empty file is complete already: `echo.filesize == 0` replies MSG_OK "".
  // `resume` (the extension's MSG_EXT_RESUME) goes just before TRANS_OK: a store's offer, which
  // the client answers before TRANS_START (ResumeAnswerRequest), or a retrieve's answer.
  Step accept_transfer(const TransferParams& echo, std::vector<std::uint32_t> ports,
                       std::optional<Message> resume = std::nullopt);
  // Any request refused (or answered) with one reply; the session goes back to `logged`
  // (or closes when `close`).
  Step reply(Message reply, bool close = false);
  Step transfer_finished(Message final_reply);
  // The extension: a store's streams are done; its final reply waits for the client's sum.
  void await_sum() noexcept { state_ = ServerState::awaiting_sum; }
  // Protocol 1 retrieve: the file is there; RETR_OK goes out and RETR_START is awaited.
  Step accept_v1_retrieve(std::int64_t filesize);
  // Protocol 1 store: the data phase begins at once (no reply precedes the data).
  void begin_v1_store() noexcept { state_ = ServerState::transferring; }

 private:
  Step on_logged(const Message& m);
  Step on_logged_v1(const Message& m);
  Step unknown();
  Step inconsistent_start();

  ServerConfig config_;
  ServerState state_ = ServerState::awaiting_login;
  int version_ = 0;
  bool prot_sent_ = false;
  bool clear_text_ = false;
  std::optional<Transfer> pending_;  // STORE_V2 / RETR_V2 awaiting its FILENAME / start
  std::optional<V1TransferRequest> pending_v1_;
  std::int64_t pending_v1_size_ = 0;                     // what RETR_OK announced
  std::optional<std::vector<std::uint8_t>> resume_ask_;  // MSG_EXT_RESUME before a transfer
  bool offered_ = false;  // a store's offer went out: the client's answer may come
};

}  // namespace ferry::bbftp
