#include "proto/bbftp/server_session.hpp"

#include <algorithm>

#include "proto/bbftp/extension.hpp"
#include "proto/bbftp/replies.hpp"

namespace ferry::bbftp {
namespace {

// The options a store keeps in its echo, as the real daemon's bbftpd_storecheckoptions keeps
// them (QBSS is dropped there; the request's qbss flag still marks our own sockets).
constexpr std::uint32_t kStoreOptions =
    tropt::kTmp | tropt::kAcc | tropt::kMode | tropt::kDir | tropt::kGzip;

Step replies_only(Message m, bool close = false) {
  Step s;
  s.replies.push_back(std::move(m));
  s.close = close;
  return s;
}

}  // namespace

const char* to_string(ServerState s) noexcept {
  switch (s) {
    case ServerState::awaiting_login:
      return "awaiting_login";
    case ServerState::awaiting_protocol:
      return "awaiting_protocol";
    case ServerState::logged:
      return "logged";
    case ServerState::awaiting_filename:
      return "awaiting_filename";
    case ServerState::deciding:
      return "deciding";
    case ServerState::awaiting_start:
      return "awaiting_start";
    case ServerState::awaiting_create_zero:
      return "awaiting_create_zero";
    case ServerState::awaiting_retr_start:
      return "awaiting_retr_start";
    case ServerState::transferring:
      return "transferring";
    case ServerState::awaiting_sum:
      return "awaiting_sum";
    case ServerState::closed:
      return "closed";
  }
  return "?";
}

Context ServerSession::context(std::size_t max_payload) const noexcept {
  // Until MSG_PROT arrives, a protocol-1 client may already be talking: frame its way.
  const bool v1_framing = version_ == 1 || (state_ == ServerState::awaiting_protocol &&
                                            !prot_sent_ && config_.min_protocol == 1);
  return {Direction::to_server, v1_framing ? 1 : std::max(version_, 2), max_payload};
}

Step ServerSession::on_protocol_error(Errc e) {
  state_ = ServerState::closed;
  return replies_only(replies::bad_no_retry(to_string(e)), true);
}

// A TRANS_START whose stream count disagrees with the accepted one: drop the transfer.
Step ServerSession::inconsistent_start() {
  state_ = ServerState::logged;
  pending_.reset();
  Step s = replies_only(replies::bad("Inconsistency between MSG_TRANS_START* and message length"));
  s.request = AbortRequest{};
  return s;
}

Step ServerSession::unknown() {
  return replies_only(version_ == 1 ? replies::unknown_message_v1() : replies::unknown_message());
}

Step ServerSession::on_message(const Message& m) {
  switch (state_) {
    case ServerState::awaiting_login: {
      if (const auto* login = std::get_if<Login>(&m)) {
        Step s;
        s.request = LoginRequest{*login, clear_text_};
        return s;
      }
      if (const auto* raw = std::get_if<Raw>(&m);
          raw && raw->code == ext::kMsgExtLogin && config_.extension && !clear_text_) {
        Step s;
        s.request = ExtLoginRequest{raw->payload};
        return s;
      }
      if (const auto* k = std::get_if<CryptKey>(&m); k && k->sec.crtype == kNoCrypt) {
        if (!config_.allow_clear_text) {
          state_ = ServerState::closed;
          return replies_only(replies::clear_text_refused(), true);
        }
        clear_text_ = true;
        return replies_only(replies::clear_text_accepted());
      }
      if (const auto* e = std::get_if<Empty>(&m);
          e && e->code == MsgCode::server_status && config_.allow_status) {
        state_ = ServerState::closed;
        Step s;
        s.request = StatusRequest{};
        s.close = true;
        return s;
      }
      state_ = ServerState::closed;
      return replies_only(replies::unknown_message(), true);
    }

    case ServerState::awaiting_protocol: {
      if (const auto* e = std::get_if<Empty>(&m); e && e->code == MsgCode::prot && !prot_sent_) {
        prot_sent_ = true;
        return replies_only(ProtRange{config_.min_protocol, config_.max_protocol});
      }
      if (prot_sent_) {
        if (const auto* c = std::get_if<ProtChoice>(&m)) {
          if (c->version < std::max(2, config_.min_protocol) || c->version > config_.max_protocol) {
            state_ = ServerState::closed;
            return replies_only(replies::bad_no_retry("Unsupported protocol version"), true);
          }
          version_ = c->version;
          state_ = ServerState::logged;
          return {};  // the real daemon does not answer the client's choice
        }
        state_ = ServerState::closed;  // the client refused our range, or spoke out of turn
        return {{}, std::nullopt, true};
      }
      if (config_.min_protocol > 1) {
        // A protocol-1 client and a daemon without protocol 1: the real daemon just closes.
        state_ = ServerState::closed;
        return {{}, std::nullopt, true};
      }
      version_ = 1;
      state_ = ServerState::logged;
      return on_logged(m);
    }

    case ServerState::logged: {
      // The extension's MSG_EXT_RESUME goes with the STORE_V2 / RETR_V2 right after it.
      if (const auto* raw = std::get_if<Raw>(&m);
          raw && raw->code == ext::kMsgExtResume && config_.extension && version_ >= 2) {
        resume_ask_ = raw->payload;
        return {};
      }
      Step s = on_logged(m);
      if (state_ != ServerState::awaiting_filename) resume_ask_.reset();
      return s;
    }

    case ServerState::awaiting_filename: {
      const auto* t = std::get_if<Text>(&m);
      std::optional<std::vector<std::uint8_t>> resume = std::move(resume_ask_);
      resume_ask_.reset();
      if (t == nullptr || t->code != MsgCode::filename || t->text.empty()) {
        pending_.reset();
        state_ = ServerState::logged;
        return unknown();  // one reply for the whole STORE_V2 / RETR_V2 group
      }
      if ((pending_->params.transferoption & tropt::kRfio) != 0) {
        // No mass-storage root is served: refuse like a real daemon built without RFIO.
        pending_.reset();
        state_ = ServerState::logged;
        return replies_only(replies::rfio_not_supported());
      }
      TransferRequest r;
      r.store = pending_->code == MsgCode::store_v2;
      r.params = pending_->params;
      r.path = t->text;
      r.qbss = (r.params.transferoption & tropt::kQbss) != 0;
      r.resume = std::move(resume);
      if (r.store) r.params.transferoption &= kStoreOptions;
      r.params.nbstream = std::clamp(r.params.nbstream, 1, config_.max_streams);
      state_ = ServerState::deciding;
      Step s;
      s.request = std::move(r);
      return s;
    }

    case ServerState::awaiting_start: {
      if (const auto* raw = std::get_if<Raw>(&m);
          raw && raw->code == ext::kMsgExtResume && offered_) {
        offered_ = false;  // one answer to the offer, then TRANS_START
        Step s;
        s.request = ResumeAnswerRequest{raw->payload};
        return s;
      }
      offered_ = false;
      StartRequest r;
      r.params = pending_->params;
      const auto n = static_cast<std::size_t>(pending_->params.nbstream);
      if (const auto* v3 = std::get_if<TransStartV3>(&m); v3 && version_ >= 3) {
        if (v3->declared_length != 4 * n) {
          return inconsistent_start();
        }
        r.simulate = v3->code == MsgCode::trans_simul_v3;
      } else if (const auto* v2 = std::get_if<PortList>(&m); v2 && version_ == 2) {
        if (v2->ports.size() != n) {
          return inconsistent_start();
        }
        r.simulate = v2->code == MsgCode::trans_simul;
        r.client_ports = v2->ports;
      } else if (const auto* e = std::get_if<Empty>(&m); e && e->code == MsgCode::abort) {
        state_ = ServerState::logged;
        pending_.reset();
        Step s;
        s.request = AbortRequest{};
        return s;  // no reply to an abort
      } else {
        // Anything else here breaks the protocol: drop the transfer and the connection.
        state_ = ServerState::closed;
        pending_.reset();
        Step s;
        s.request = AbortRequest{};
        s.close = true;
        return s;
      }
      state_ = ServerState::transferring;
      Step s;
      s.request = std::move(r);
      return s;
    }

    case ServerState::awaiting_create_zero: {
      state_ = ServerState::logged;
      if (const auto* e = std::get_if<Empty>(&m);
          e && (e->code == MsgCode::create_zero || e->code == MsgCode::abort)) {
        return {};  // no reply to either
      }
      return on_logged(m);
    }

    case ServerState::awaiting_retr_start: {
      const auto* e = std::get_if<Empty>(&m);
      if (e != nullptr && e->code == MsgCode::retr_start && pending_v1_) {
        state_ = ServerState::transferring;
        Step s;
        s.request = V1RetrieveStart{std::move(*pending_v1_), pending_v1_size_};
        pending_v1_.reset();
        return s;
      }
      pending_v1_.reset();
      if (e != nullptr && (e->code == MsgCode::create_zero || e->code == MsgCode::abr)) {
        state_ = ServerState::logged;
        return {};  // no reply to either
      }
      state_ = ServerState::closed;  // the real daemon exits on anything else
      return {{}, std::nullopt, true};
    }

    case ServerState::awaiting_sum: {
      if (const auto* raw = std::get_if<Raw>(&m); raw && raw->code == ext::kMsgExtSum) {
        state_ = ServerState::transferring;
        Step s;
        s.request = SumRequest{raw->payload};
        return s;
      }
      state_ = ServerState::closed;  // anything else breaks the protocol: drop the file
      return {{}, AbortRequest{}, true};
    }

    case ServerState::deciding:
    case ServerState::transferring:
      // Nothing may arrive while a request runs; the real daemon aborts and exits.
      state_ = ServerState::closed;
      return {{}, AbortRequest{}, true};

    case ServerState::closed:
      return {{}, std::nullopt, true};
  }
  return {};
}

Step ServerSession::on_logged_v1(const Message& m) {
  if (const auto* st = std::get_if<StoreV1>(&m)) {
    if (st->code == MsgCode::retr_rfio || st->code == MsgCode::retr_rfio_c) {
      return replies_only(replies::rfio_not_supported());  // its 576 bytes were read
    }
    if (st->nbport < 1 || st->nbport > static_cast<std::int32_t>(kV1MaxPorts)) {
      // The real daemon trusts nbport (0 divides by zero, > 10 overflows); we refuse it.
      return replies_only(replies::bad_no_retry("Invalid number of ports"));
    }
    const bool store = st->code == MsgCode::store || st->code == MsgCode::store_c;
    if (store && st->filesize < 0) return replies_only(replies::bad_no_retry("Invalid file size"));
    V1TransferRequest r;
    r.store = store;
    r.compressed = st->code == MsgCode::store_c || st->code == MsgCode::retr_c;
    r.path = st->filename();
    r.filesize = store ? st->filesize : 0;
    r.ports.assign(st->ports.begin(), st->ports.begin() + st->nbport);
    if (r.path.empty()) return replies_only(replies::bad_no_retry("Empty file name"));
    if (!store) pending_v1_ = r;
    state_ = ServerState::deciding;
    Step s;
    s.request = std::move(r);
    return s;
  }
  if (const auto* t = std::get_if<Text>(&m);
      t && (t->code == MsgCode::mkdir || t->code == MsgCode::chdir || t->code == MsgCode::list)) {
    std::string path = t->text;
    while (!path.empty() && path.back() == '\0') path.pop_back();  // "NUL optional"
    Step s;
    const V1DirOp op = t->code == MsgCode::mkdir   ? V1DirOp::mkdir
                       : t->code == MsgCode::chdir ? V1DirOp::chdir
                                                   : V1DirOp::list;
    s.request = V1DirRequest{op, std::move(path)};
    return s;
  }
  return unknown();
}

Step ServerSession::accept_v1_retrieve(std::int64_t filesize) {
  state_ = ServerState::awaiting_retr_start;
  pending_v1_size_ = filesize;
  return replies_only(RetrOk{filesize});
}

Step ServerSession::on_logged(const Message& m) {
  if (version_ == 1) return on_logged_v1(m);
  if (const auto* raw = std::get_if<Raw>(&m);
      raw && raw->code == ext::kMsgExtChecksum && config_.extension && !raw->payload.empty()) {
    Step s;
    s.request = ChecksumRequest{std::string(raw->payload.begin(), raw->payload.end())};
    return s;
  }
  if (const auto* d = std::get_if<DirCommand>(&m); d && version_ >= 2) {
    if ((d->transferoption & tropt::kRfio) != 0) return replies_only(replies::rfio_not_supported());
    std::optional<DirOp> op;
    switch (d->code) {
      case MsgCode::chdir_v2:
        op = DirOp::chdir;
        break;
      case MsgCode::mkdir_v2:
        op = DirOp::mkdir;
        break;
      case MsgCode::list_v2:
        op = DirOp::list;
        break;
      case MsgCode::rm:
        op = DirOp::rm;
        break;
      case MsgCode::stat:
        op = DirOp::stat;
        break;
      case MsgCode::df:
        op = DirOp::df;
        break;
      default:
        return unknown();  // the codec makes a DirCommand of these codes only
    }
    Step s;
    s.request = DirRequest{*op, d->path, d->transferoption};
    return s;
  }
  if (const auto* i = std::get_if<IntCommand>(&m); i && version_ >= 2) {
    if (i->code == MsgCode::chumask) {
      Step s;
      s.request = UmaskRequest{static_cast<std::uint32_t>(i->value) & 0777};
      return s;
    }
    if (i->code == MsgCode::chcos) return replies_only(replies::cos_set());
  }
  if (const auto* t = std::get_if<Transfer>(&m);
      t && version_ >= 2 && (t->code == MsgCode::store_v2 || t->code == MsgCode::retr_v2)) {
    pending_ = *t;
    state_ = ServerState::awaiting_filename;
    return {};
  }
  if (const auto* e = std::get_if<Empty>(&m); e && e->code == MsgCode::close_conn) {
    state_ = ServerState::closed;
    return {{}, std::nullopt, true};
  }
  return unknown();
}

Step ServerSession::login_result(bool accepted) {
  if (!accepted) {
    state_ = ServerState::closed;
    return replies_only(replies::login_refused(), true);
  }
  state_ = ServerState::awaiting_protocol;
  return replies_only(replies::login_ok(config_.version));
}

Step ServerSession::ext_login_accepted(std::uint32_t features) {
  state_ = ServerState::awaiting_protocol;
  const ext::ExtLoginOk ok{static_cast<std::uint8_t>(config_.max_protocol), features,
                           replies::login_ok(config_.version).text};
  return replies_only(Raw{ext::kMsgExtLoginOk, ext::encode(ok)});
}

Step ServerSession::login_refused(Message reply) {
  state_ = ServerState::closed;
  return replies_only(std::move(reply), true);
}

Step ServerSession::accept_transfer(const TransferParams& echo, std::vector<std::uint32_t> ports,
                                    std::optional<Message> resume) {
  const bool store = pending_ && pending_->code == MsgCode::store_v2;
  if (store && echo.filesize == 0) {
    pending_.reset();
    state_ = ServerState::logged;
    return replies_only(replies::ok(""));
  }
  pending_->params = echo;
  Step s;
  offered_ = store && resume.has_value();  // a store's offer: the client answers it
  if (resume) s.replies.push_back(std::move(*resume));
  if (version_ >= 3) {
    s.replies.push_back(
        TransOkV3{echo, echo.filesize == 0 ? std::vector<std::uint32_t>{} : std::move(ports)});
  } else {
    s.replies.push_back(Transfer{MsgCode::trans_ok_v2, echo});
  }
  state_ = (!store && echo.filesize == 0) ? ServerState::awaiting_create_zero
                                          : ServerState::awaiting_start;
  if (state_ == ServerState::awaiting_create_zero) pending_.reset();
  return s;
}

Step ServerSession::reply(Message r, bool close) {
  pending_.reset();
  resume_ask_.reset();
  offered_ = false;
  pending_v1_.reset();
  state_ = close ? ServerState::closed : ServerState::logged;
  return replies_only(std::move(r), close);
}

Step ServerSession::transfer_finished(Message final_reply) {
  pending_.reset();
  state_ = ServerState::logged;
  return replies_only(std::move(final_reply));
}

}  // namespace ferry::bbftp
