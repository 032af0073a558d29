// The client's session state machine against any server: the bytes after the first are what a
// (malicious) server sends; the first byte picks the protocol range, password or ssh mode (its
// top bit) and how the client goes on after its login (commands, listings or transfers, in
// turn). It must never crash, never choose
// a protocol outside its own range, and be closed after a violation.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.hpp"
#include "proto/bbftp/client_session.hpp"
#include "proto/bbftp/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::bbftp;
  if (size < 1) return 0;
  const int min = 1 + (data[0] & 1), max = min + ((data[0] >> 1) & 1) + 1;  // 1..3, 2..3, ...
  ClientSession s(min, std::min(max, 3));
  unsigned next_action = (data[0] >> 2) & 0x1f;
  if ((data[0] & 0x80) != 0) s.start_ssh();
  ferry::Bytes rest(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  for (int i = 0; i < 1024 && !rest.empty() && s.state() != ClientState::closed; ++i) {
    // What the client sends next, as a real one would in this state.
    switch (s.state()) {
      case ClientState::logged:
        switch (next_action++ % 3) {
          case 0:
            s.sent_command();
            break;
          case 1:
            s.sent_list();
            break;
          default:
            s.sent_transfer();
        }
        break;
      default:
        break;
    }
    auto d = decode_next(rest, s.context(1 << 16));
    if (!d) break;
    rest = rest.subspan(d->consumed);
    const ClientEvent ev = s.on_message(d->message);
    if (std::holds_alternative<Violation>(ev)) {
      FUZZ_CHECK(s.state() == ClientState::closed);
      break;
    }
    if (std::holds_alternative<KeyReceived>(ev)) s.sent_login();
    if (std::holds_alternative<SshHello>(ev)) {
      FUZZ_CHECK(s.state() == ClientState::logged);
      s.sent_prot();
    }
    if (const auto* a = std::get_if<Accepted>(&ev);
        a && s.state() == ClientState::logged && s.version() == 0) {
      s.sent_prot();
    }
    if (const auto* n = std::get_if<Negotiated>(&ev); n && n->version) {
      FUZZ_CHECK(*n->version >= min && *n->version <= std::min(max, 3));
    }
    if (std::holds_alternative<TransferReady>(ev)) s.started_transfer();
  }
  return 0;
}
