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
//                    [flags bit 1: the bbftp extension's channel (docs/protocol/bbftp-extended.md):
//                    u32 features | c2s key [32] | c2s iv [12] | u64 next c2s record |
//                    s2c key [32] | s2c iv [12] | u64 next s2c record | data key [32]]
//   log_line    (3): u8 level (0 debug, 1 info, 2 warning, 3 error) | u16 n | text (the pre-login
//                    process has no log of its own: the monitor writes its lines, rate-limited,
//                    escaped and prefixed with the connection's address)
//   sign        (4): u32 features | X25519 share [32] | u16 n | modulus MPI | u16 n | exponent
//                    MPI: the bbftp extension's announcement, which the monitor completes with a
//                    nonce of its own and signs with the host key (once per connection, before
//                    check_login)
//   verdict  (0x81): u8 outcome
//   signed   (0x82): nonce [32] | host public key [32] | signature [64]
//
// A pre-login process may send one sign first. It sends one check_login. On `accepted` it sends
// hand_over and exits; the monitor then serves the session in a process of the user's (or the
// service account's) own. On any other outcome it answers the client and exits. log_line may come
// at any time before. Nothing else is ever accepted. The encoder refuses (returns nothing for) what
// the decoder would refuse: a field beyond its limit.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
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
inline constexpr std::size_t kMaxMpi = 1024;  // the connection's RSA key is 1024 bits
inline constexpr std::size_t kFrameHeader = 4;
inline constexpr std::size_t kChannelSize = 4 + 32 + 12 + 8 + 32 + 12 + 8 + 32;
inline constexpr std::size_t kMaxFrame = 1 + 1 + 4 + kMaxPending + kChannelSize;

using Key32 = std::array<std::uint8_t, 32>;
using Iv12 = std::array<std::uint8_t, 12>;

struct CheckLogin {
  std::string user;
  std::string password;
  bool undecryptable = false;  // the client's login did not decrypt: a failure, counted
  bool operator==(const CheckLogin&) const = default;
};
// The bbftp extension's sealed control channel, as the pre-login process leaves it: the session
// goes on with the next record numbers. Opaque to the monitor: a compromised pre-login process
// can only spoil its own connection with it.
struct Channel {
  std::uint32_t features = 0;
  Key32 c2s_key{};
  Iv12 c2s_iv{};
  std::uint64_t c2s_next = 0;
  Key32 s2c_key{};
  Iv12 s2c_iv{};
  std::uint64_t s2c_next = 0;
  Key32 data_key{};
  bool operator==(const Channel&) const = default;
};
struct HandOver {
  bool clear_text = false;
  std::vector<std::byte> pending;
  std::optional<Channel> channel;
  bool operator==(const HandOver&) const = default;
};
struct Sign {
  std::uint32_t features = 0;
  Key32 share{};
  std::vector<std::uint8_t> modulus_mpi;
  std::vector<std::uint8_t> exponent_mpi;
  bool operator==(const Sign&) const = default;
};
struct LogLine {
  std::uint8_t level = 1;  // 0 debug, 1 info, 2 warning, 3 error
  std::string text;
  bool operator==(const LogLine&) const = default;
};
using Request = std::variant<CheckLogin, HandOver, LogLine, Sign>;

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
struct Signed {
  Key32 nonce{};
  Key32 host_key{};
  std::array<std::uint8_t, 64> signature{};
  bool operator==(const Signed&) const = default;
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
std::vector<std::byte> encode(const Signed& s);
// The monitor's side: a request from the pre-login process.
ferry::Result<Decoded<Request>, Errc> decode_request(Bytes in);
// The pre-login side: the monitor's verdict.
ferry::Result<Decoded<Verdict>, Errc> decode_verdict(Bytes in);
ferry::Result<Decoded<Signed>, Errc> decode_signed(Bytes in);

}  // namespace ferry::monitor
