// What a bbftpd pre-login process may ask of its monitor, and the answers: the whole request set
// of the privilege boundary (docs/security.md). Pure: bytes in, messages out.
//
// The pre-login process parses everything the client sends before its login; the monitor keeps
// root and parses only these frames. Treat every frame as hostile: a compromised pre-login
// process writes what it likes.
//
//   frame  := u32 length (big-endian, of type + body, at most kMaxFrame) | u8 type | body
//   check_login (1): u8 flags (bit 0: the login did not decrypt) | u16 n | user | u16 n | password
//   hand_over   (2): u8 flags (bit 0: clear-text login) | u32 n | the client's bytes read past its
//                    login, not yet served
//   log_line    (3): u8 level (0 debug, 1 info, 2 warning, 3 error) | u16 n | text (the pre-login
//                    process has no log of its own: the monitor writes its lines, rate-limited,
//                    escaped and prefixed with the connection's address)
//   verdict  (0x81): u8 outcome
//
// A pre-login process sends one check_login. On `accepted` it sends hand_over and exits; the
// monitor then serves the session in a process of the user's (or the service account's) own.
// On any other outcome it answers the client and exits. log_line may come at any time before.
// Nothing else is ever accepted. The encoder refuses (returns nothing for) what the decoder
// would refuse: a field beyond its limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace ferry::monitor {

inline constexpr std::size_t kMaxUser = 256;
inline constexpr std::size_t kMaxPassword = 256;
inline constexpr std::size_t kMaxPending = 64 * 1024;
inline constexpr std::size_t kMaxLogText = 1024;
inline constexpr std::size_t kFrameHeader = 4;
inline constexpr std::size_t kMaxFrame = 1 + 1 + 4 + kMaxPending;

struct CheckLogin {
  std::string user;
  std::string password;
  bool undecryptable = false;  // the client's login did not decrypt: a failure, counted
  bool operator==(const CheckLogin&) const = default;
};
struct HandOver {
  bool clear_text = false;
  std::vector<std::byte> pending;
  bool operator==(const HandOver&) const = default;
};
struct LogLine {
  std::uint8_t level = 1;  // 0 debug, 1 info, 2 warning, 3 error
  std::string text;
  bool operator==(const LogLine&) const = default;
};
using Request = std::variant<CheckLogin, HandOver, LogLine>;

enum class Outcome : std::uint8_t {
  accepted = 1,    // hand over and exit: the session goes on elsewhere
  refused = 2,     // wrong credentials (or any failure): the usual refusal
  busy = 3,        // the sessions are full: MSG_BAD, the client retries later
  not_served = 4,  // right credentials, but the session cannot start (its root is missing ...)
};
struct Verdict {
  Outcome outcome = Outcome::refused;
  bool operator==(const Verdict&) const = default;
};

enum class Errc {
  need_more,     // an incomplete frame: read more (nothing consumed)
  too_long,      // the length field is beyond kMaxFrame
  unknown_type,  // not a type this direction carries
  malformed,     // the body does not fit its type
};
const char* to_string(Errc e) noexcept;

template <class T>
struct Decoded {
  T message;
  std::size_t consumed = 0;
};

// Empty when a field is beyond its limit (nothing is cut silently).
std::vector<std::byte> encode(const Request& r);
std::vector<std::byte> encode(const Verdict& v);
// The monitor's side: a request from the pre-login process.
ferry::Result<Decoded<Request>, Errc> decode_request(Bytes in);
// The pre-login side: the monitor's verdict.
ferry::Result<Decoded<Verdict>, Errc> decode_verdict(Bytes in);

}  // namespace ferry::monitor
