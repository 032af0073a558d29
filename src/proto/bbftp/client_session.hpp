// The client's side of a bbftp control connection as a state machine without I/O: which reply
// is legal when, and what it means. The host sends a request, tells the session what it sent
// (expect_*), frames incoming bytes with context() and feeds each message to on_message(), which
// says what happened. Anything a real client would not accept there is a Violation, after which
// the connection must be dropped (the real client then reconnects).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "proto/bbftp/codec.hpp"
#include "proto/bbftp/features.hpp"
#include "proto/bbftp/messages.hpp"

namespace ferry::bbftp {

enum class ClientState {
  awaiting_key,          // MSG_CRYPT comes first
  awaiting_ssh_hello,    // ssh mode: MSG_LOGGED_STDIN (or MSG_IPADDR) comes first
  awaiting_login_reply,  // after MSG_LOG
  awaiting_range,        // after MSG_PROT
  logged,                // nothing pending
  awaiting_reply,        // a command (cd, mkdir, rm, stat, df, umask, cos) was sent
  awaiting_listing,      // LIST_V2 / LIST sent
  awaiting_transfer_ok,  // STORE_V2 / RETR_V2 + FILENAME sent (or a v1 STORE / RETR)
  awaiting_final,        // data moving: MSG_OK / MSG_BAD ends it, MSG_INFO may come first
  closed,
};

// What a server message meant.
struct KeyReceived {
  CryptKey key;
};
struct Accepted {  // MSG_OK
  std::string text;
};
struct Refused {  // MSG_BAD (retryable) or MSG_BAD_NO_RETRY
  std::string text;
  bool retryable = false;
};
struct Negotiated {  // the protocol we chose from the server's range, or none in common
  std::optional<int> version;
  Message answer;  // MSG_PROT_ANS with our choice, or MSG_BAD_NO_RETRY
};
struct TransferReady {  // TRANS_OK_V2 / TRANS_OK_V3 (or the v1 RETR_OK size)
  TransferParams params;
  std::vector<std::uint32_t> ports;  // protocol 3: where to connect
};
struct Listing {
  std::vector<ListEntry> entries;
};
struct Info {  // MSG_INFO during a transfer: print it and keep waiting
  std::string text;
};
// ssh mode, where the daemon (bbftpd -s, started by ssh as the user) has no address of the
// client: it either listens on `check_port` for a TCP connection carrying MSG_IPADDR (answered
// MSG_IPADDR_OK), whose source it then trusts for data, or it sent its own IPv4 address and
// wants ours back in MSG_IPADDR_OK (`wants_address`).
struct SshHello {
  std::uint16_t check_port = 0;
  bool wants_address = false;
};
struct Violation {
  std::string what;
};
using ClientEvent = std::variant<KeyReceived, Accepted, Refused, Negotiated, TransferReady, Listing,
                                 Info, SshHello, Violation>;

class ClientSession {
 public:
  // The range of protocols this client speaks (1..1 for protocol 1, 2..2 for -D).
  ClientSession(int min_protocol, int max_protocol) : min_(min_protocol), max_(max_protocol) {}

  ClientState state() const noexcept { return state_; }
  int version() const noexcept { return version_; }
  // What the negotiated protocol allows (nothing before the negotiation).
  Features features() const noexcept { return Features::of(version_); }
  // False for a client that speaks protocol 1 only: there is no MSG_PROT, the first command
  // tells the daemon (use_protocol_1()).
  bool negotiates() const noexcept { return max_ > 1; }
  Context context(std::size_t max_payload = std::size_t{64} << 20) const noexcept {
    return {Direction::to_client, version_ == 0 ? 3 : version_, max_payload};
  }

  // ssh mode: there is no key and no login (ssh did both); the daemon speaks first.
  void start_ssh() noexcept { state_ = ClientState::awaiting_ssh_hello; }
  // What the host just sent.
  void sent_login() noexcept { state_ = ClientState::awaiting_login_reply; }
  void sent_prot() noexcept { state_ = ClientState::awaiting_range; }
  void sent_command() noexcept { state_ = ClientState::awaiting_reply; }
  void sent_list() noexcept { state_ = ClientState::awaiting_listing; }
  void sent_transfer() noexcept { state_ = ClientState::awaiting_transfer_ok; }
  void started_transfer() noexcept { state_ = ClientState::awaiting_final; }
  // A transfer that needs no final reply (CREATE_ZERO, ABORT, ABR) or a v1 login without PROT.
  void settled() noexcept { state_ = ClientState::logged; }
  void use_protocol_1() noexcept { version_ = 1; }

  ClientEvent on_message(const Message& m);

 private:
  ClientEvent violation(std::string what);

  int min_;
  int max_;
  int version_ = 0;
  ClientState state_ = ClientState::awaiting_key;
};

}  // namespace ferry::bbftp
