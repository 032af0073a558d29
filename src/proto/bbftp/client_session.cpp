#include "proto/bbftp/client_session.hpp"

#include <algorithm>

namespace ferry::bbftp {

ClientEvent ClientSession::violation(std::string what) {
  state_ = ClientState::closed;
  return Violation{std::move(what)};
}

ClientEvent ClientSession::on_message(const Message& m) {
  const auto* text = std::get_if<Text>(&m);
  const auto unexpected = [&] {
    return violation(std::string("Unknown message while waiting for a reply: ") +
                     name_of(static_cast<MsgCode>(code_of(m))));
  };
  // OK / BAD / BAD_NO_RETRY: the ordinary end of a request in every waiting state but the first.
  const auto ends_request = [&]() -> std::optional<ClientEvent> {
    if (text == nullptr) return std::nullopt;
    if (text->code == MsgCode::ok) return ClientEvent(Accepted{text->text});
    if (text->code == MsgCode::bad) return ClientEvent(Refused{text->text, true});
    if (text->code == MsgCode::bad_no_retry) return ClientEvent(Refused{text->text, false});
    return std::nullopt;
  };

  switch (state_) {
    case ClientState::awaiting_key:
      if (const auto* k = std::get_if<CryptKey>(&m); k && k->sec.crtype == kCryptRsaOaep) {
        state_ = ClientState::logged;  // until the host sends MSG_LOG
        return KeyReceived{*k};
      }
      return violation("The server did not send its key (not a bbftp daemon?)");

    case ClientState::awaiting_ssh_hello: {
      if (const auto* i = std::get_if<IntCommand>(&m); i && i->code == MsgCode::logged_stdin) {
        if (i->value < 1 || i->value > 65535) {
          return violation("The server announced an impossible check port");
        }
        state_ = ClientState::logged;  // once the host has made the check connection
        return SshHello{static_cast<std::uint16_t>(i->value), false};
      }
      if (const auto* r = std::get_if<Raw>(&m);
          r && r->code == static_cast<std::uint32_t>(MsgCode::ipaddr) && r->payload.size() == 4) {
        state_ = ClientState::logged;  // once the host has answered MSG_IPADDR_OK
        return SshHello{0, true};
      }
      if (auto e = ends_request(); e && !std::holds_alternative<Accepted>(*e)) {
        state_ = ClientState::closed;
        return *e;
      }
      return violation("Unknown message while waiting for MSG_LOGGED_STDIN message");
    }

    case ClientState::awaiting_login_reply: {
      auto e = ends_request();
      if (!e) return unexpected();
      state_ = std::holds_alternative<Accepted>(*e) ? ClientState::logged : ClientState::closed;
      return *e;
    }

    case ClientState::awaiting_range: {
      const auto* r = std::get_if<ProtRange>(&m);
      if (r == nullptr) {
        // A refusal of MSG_PROT is fatal for the real client ("Incompatible deamon and client").
        return violation("No protocol range from the server");
      }
      const int chosen = std::min(r->max, max_);
      if (chosen < std::max(r->min, min_)) {
        state_ = ClientState::closed;
        return Negotiated{std::nullopt, Text{MsgCode::bad_no_retry, ""}};
      }
      version_ = chosen;
      state_ = ClientState::logged;
      return Negotiated{chosen, ProtChoice{chosen}};
    }

    case ClientState::awaiting_reply:
      if (auto e = ends_request()) {
        state_ = ClientState::logged;
        return *e;
      }
      return unexpected();

    case ClientState::awaiting_listing:
      if (const auto* l = std::get_if<ListReplyV2>(&m)) {
        state_ = ClientState::logged;
        return Listing{l->entries};
      }
      if (const auto* l = std::get_if<ListReplyV1>(&m)) {
        state_ = ClientState::logged;
        Listing out;
        for (const auto& p : l->paths) out.entries.push_back({p, ' ', ' '});  // no types in v1
        return out;
      }
      if (auto e = ends_request(); e && !std::holds_alternative<Accepted>(*e)) {
        state_ = ClientState::logged;
        return *e;
      }
      return unexpected();

    case ClientState::awaiting_transfer_ok:
      if (const auto* ok = std::get_if<TransOkV3>(&m); ok && version_ >= 3) {
        return TransferReady{ok->params, ok->ports};  // the host starts or settles
      }
      if (const auto* ok = std::get_if<Transfer>(&m);
          ok && ok->code == MsgCode::trans_ok_v2 && version_ == 2) {
        return TransferReady{ok->params, {}};
      }
      if (const auto* ok = std::get_if<RetrOk>(&m); ok && version_ == 1) {
        TransferParams p;
        p.filesize = ok->filesize;
        return TransferReady{p, {}};
      }
      if (auto e = ends_request()) {  // refused, or an empty put done with MSG_OK ""
        state_ = ClientState::logged;
        return *e;
      }
      return unexpected();

    case ClientState::awaiting_final:
      if (text != nullptr && text->code == MsgCode::info) return Info{text->text};
      if (auto e = ends_request()) {
        state_ = ClientState::logged;
        return *e;
      }
      return unexpected();

    case ClientState::logged:
      // Nothing was asked: the real client would read this as the answer to its next request.
      return violation("Message from the server while no request was pending");

    case ClientState::closed:
      return violation("The connection is closed");
  }
  return unexpected();
}

}  // namespace ferry::bbftp
