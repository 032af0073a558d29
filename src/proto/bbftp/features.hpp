// What the negotiated protocol allows, as the hosts ask it: they test a feature, never a protocol
// number (the codec and the reply texts keep the number where the wire itself differs).
#pragma once

namespace ferry::bbftp {

struct Features {  // all false until a protocol is negotiated
  // Protocol 3: the daemon listens for the data connections and the client connects
  // (TRANS_OK_V3 carries the ports); before it, the daemon connects to the client's ports.
  bool passive = false;
  // Protocols 2 and 3: STORE_V2 / RETR_V2 transfers, the *_V2 directory commands, RM, STAT, DF,
  // CHUMASK and CHCOS. Protocol 1 has STORE / RETR, CHDIR, MKDIR and LIST only.
  bool v2_messages = false;

  static constexpr Features of(int negotiated) noexcept {
    return {negotiated >= 3, negotiated >= 2};
  }
  bool operator==(const Features&) const = default;
};

}  // namespace ferry::bbftp
