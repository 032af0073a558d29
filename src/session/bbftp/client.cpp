#include "session/bbftp/client.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "crypto/bbftp_keys.hpp"
#include "crypto/host_key.hpp"
#include "crypto/rsa.hpp"
#include "crypto/xftp_keys.hpp"
#include "proto/bbftp/codec.hpp"
#include "proto/bbftp/extension.hpp"
#include "proto/bbftp/transfer_plan.hpp"
#include "session/bbftp/data_channel.hpp"
#include "session/bbftp/resume.hpp"
#include "session/bbftp/streams.hpp"
#include "session/bbftp/sums_ahead.hpp"
#include "storage/atomic_writer.hpp"

namespace ferry::session {
namespace {

using namespace bbftp;

// A connection to one of our data ports from another host than the server's: closed unread.
void ignore_stranger(const io::SocketAddress& from) {
  spdlog::debug("data connection from {} closed: not the server's address", from.to_string());
}

Outcome failure(Outcome::Kind kind, int error, std::string text) {
  Outcome o;
  o.kind = kind;
  o.error = error;
  o.text = std::move(text);
  return o;
}

double seconds_since(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

}  // namespace

bool BbftpClient::send(const std::vector<Message>& messages) {
  std::vector<std::byte> out;
  for (const auto& m : messages) encode_to(m, out);
  if (channel_) out = channel_->seal(out);
  return static_cast<bool>(io::write_all(fd_.get(), out, config_.control_timeout));
}

std::optional<Message> BbftpClient::receive(io::Timeout timeout) {
  const Context ctx = session_.context();
  std::vector<std::byte> chunk(64 * 1024);
  for (;;) {
    auto d = decode_next(in_, ctx);
    if (d) {
      in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(d->consumed));
      return std::move(d->message);
    }
    if (d.error() != Errc::need_more) return std::nullopt;
    auto n = io::read_some(fd_.get(), chunk, timeout);
    if (!n) return std::nullopt;
    if (channel_) {
      // A record that does not open: the connection is not our daemon's any more.
      if (!channel_->open(Bytes(chunk.data(), *n), in_)) return std::nullopt;
      continue;
    }
    in_.insert(in_.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(*n));
  }
}

Outcome BbftpClient::broken(std::string why) {
  fd_.reset();
  in_.clear();
  return failure(Outcome::broken, client_error::kBroken, std::move(why));
}

std::optional<ClientEvent> BbftpClient::next_event(io::Timeout timeout, Outcome& broken_out) {
  auto reply = receive(timeout);
  if (!reply) {
    broken_out = broken("Connection to the server lost");
    return std::nullopt;
  }
  return session_.on_message(*reply);
}

Outcome BbftpClient::outcome_of(const ClientEvent& ev) {
  if (const auto* a = std::get_if<Accepted>(&ev)) return failure(Outcome::ok, 0, a->text);
  if (const auto* r = std::get_if<Refused>(&ev)) {
    return failure(r->retryable ? Outcome::retry : Outcome::refused, client_error::kServer,
                   r->text);
  }
  if (const auto* v = std::get_if<Violation>(&ev)) {
    fd_.reset();
    in_.clear();
    return failure(Outcome::broken, client_error::kUnexpected, v->what);
  }
  fd_.reset();
  in_.clear();
  return failure(Outcome::broken, client_error::kUnexpected, "Unexpected reply from the server");
}

Outcome BbftpClient::final_reply() {
  for (;;) {
    Outcome lost;
    auto ev = next_event(config_.control_timeout, lost);
    if (!ev) return lost;
    if (const auto* info = std::get_if<Info>(&*ev)) {
      if (config_.on_info) config_.on_info(info->text);
      continue;
    }
    return outcome_of(*ev);
  }
}

Outcome BbftpClient::connect() {
  fd_.reset();
  ssh_.stop();
  in_.clear();
  channel_.reset();
  transfers_ = 0;
  session_ = ClientSession(config_.min_protocol, config_.max_protocol);
  const bool ssh =
      config_.control_channel >= 0 ? config_.ssh_channel : !config_.ssh_command.empty();
  return ssh ? connect_ssh() : connect_tcp_login();
}

Outcome BbftpClient::connect_tcp_login() {
  auto fd = config_.control_channel >= 0
                ? own_channel()
                : io::connect_tcp(config_.host, config_.port, config_.connect_timeout);
  if (!fd) {
    return failure(
        Outcome::broken, client_error::kConnect,
        std::string("Cannot connect to control socket: ") +
            std::strerror(fd.error().sys_errno != 0 ? fd.error().sys_errno : ECONNRESET));
  }
  fd_ = std::move(*fd);
  io::set_nodelay(fd_.get());
  if (auto a = io::SocketAddress::of_peer(fd_.get())) server_ = *a;
  if (auto a = io::SocketAddress::of_local(fd_.get())) local_ = *a;

  Outcome lost;
  auto hello = next_event(config_.control_timeout, lost);
  if (!hello) return lost;
  const auto* offered = std::get_if<KeyReceived>(&*hello);
  if (offered == nullptr) return outcome_of(*hello);
  const auto& key_msg = offered->key;
  auto announced = config_.extension && !key_msg.appended.empty()
                       ? ext::decode_announcement(key_msg.appended)
                       : std::nullopt;
  // A version or key type we do not know is no announcement we can use.
  if (announced && (announced->version != ext::kVersion || announced->key_type != ext::kEd25519)) {
    announced.reset();
  }
  if (config_.extension) {
    std::optional<crypto::PublicKey> host_key;
    if (announced) host_key = announced->host_key;
    if (auto refused = check_identity(key_msg, host_key)) return *refused;
  }
  if (announced) return ext_login(key_msg);
  auto key = crypto::RsaPublicKey::from_mpi(key_msg.modulus_mpi, key_msg.exponent_mpi);
  if (!key) return broken("The server's key is unusable: " + key.error());
  auto user = key->encrypt(config_.user);
  auto pass = key->encrypt(config_.password);
  if (!user || !pass || user->size() != kRsaBytes || pass->size() != kRsaBytes) {
    return failure(Outcome::refused, client_error::kServer,
                   "User name or password too long for the server's key (86 bytes at most)");
  }
  Login login;
  std::memcpy(login.user.data(), user->data(), kRsaBytes);
  std::memcpy(login.pass.data(), pass->data(), kRsaBytes);
  login.numuser = login.numpass = static_cast<std::int32_t>(kRsaBytes);
  if (!send({login})) return broken("Connection to the server lost during login");
  session_.sent_login();
  auto reply = next_event(config_.control_timeout, lost);
  if (!reply) return lost;
  Outcome greeting = outcome_of(*reply);
  if (!greeting) {
    fd_.reset();
    return greeting;
  }
  return negotiate(std::move(greeting));
}

std::optional<Outcome> BbftpClient::check_identity(
    const CryptKey& key, const std::optional<crypto::PublicKey>& host_key) {
  auto refuse = [&](std::string why) {
    fd_.reset();
    return failure(Outcome::refused, client_error::kIdentity, std::move(why));
  };
  if (host_key) {
    const auto a = ext::decode_announcement(key.appended);
    if (!a || !crypto::ed25519_verify(*host_key, ext::signed_bytes(key), a->signature)) {
      return refuse("The server " + config_.host + " port " + std::to_string(config_.port) +
                    " announces the bbftp extension with a signature its host key did not "
                    "make: refused before sending any credential");
    }
  }
  if (!config_.check_identity) return std::nullopt;
  auto why = config_.check_identity(host_key);
  if (!why) return std::nullopt;
  if (!host_key) {
    // No announcement from a daemon we pinned: a downgrade, or our listener refusing the
    // connection (busy, banned), whose greeting cannot be signed. One byte (nothing secret)
    // makes a refusing listener answer within a second or so; a refusal to try again later is
    // then what it is, and anything else stays a downgrade.
    const std::byte nothing[1] = {std::byte{0}};
    if (io::write_all(fd_.get(), nothing, config_.control_timeout)) {
      auto reply = receive(std::chrono::seconds(3));
      if (const auto* t = reply ? std::get_if<Text>(&*reply) : nullptr;
          t && t->code == MsgCode::bad) {
        fd_.reset();
        return failure(Outcome::retry, client_error::kServer, t->text);
      }
    }
  }
  return refuse(std::move(*why));
}

Outcome BbftpClient::ext_login(const CryptKey& key) {
  const auto a = ext::decode_announcement(key.appended);  // checked by check_identity
  auto secret = crypto::X25519Secret::generate();
  if (!a || !secret) return broken("The extension's key exchange failed");
  ext::ExtLogin l;
  std::uint32_t wanted = ext::feature::kStreamProofs;
  if (config_.checksum != ClientConfig::Checksum::off) {
    wanted |= ext::feature::kChecksums | ext::feature::kResume;
  }
  if (config_.checksum == ClientConfig::Checksum::sha256) wanted |= ext::feature::kSha256;
  l.features = a->features & wanted;
  if ((l.features & ext::feature::kSha256) != 0 && (l.features & ext::feature::kChecksums) == 0) {
    l.features &= ~ext::feature::kSha256;
  }
  crypto::random_bytes(l.nonce);
  l.share = secret->share();
  auto shared = secret->agree(a->share);
  if (!shared) return broken("The server's X25519 share is unusable: " + shared.error());
  const auto whole = encode(Message(key));
  std::vector<std::uint8_t> crypt_payload;
  for (std::size_t i = kHeaderSize; i < whole.size(); ++i) {
    crypt_payload.push_back(static_cast<std::uint8_t>(whole[i]));
  }
  const auto th = crypto::bbftp_transcript_hash(crypt_payload, ext::transcript_part(l));
  auto keys = crypto::derive_bbftp_keys(*shared, l.nonce, a->nonce, th);
  std::fill(shared->begin(), shared->end(), 0);
  if (!keys) return broken(keys.error());
  crypto::RecordSealer c2s(keys->c2s, keys->c2s_iv);
  auto creds = ext::encode(ext::Credentials{config_.user, config_.password});
  l.sealed = c2s.seal(creds, th);
  std::fill(creds.begin(), creds.end(), 0);
  if (!send({Raw{ext::kMsgExtLogin, ext::encode(l)}})) {
    return broken("Connection to the server lost during login");
  }
  session_.sent_login();
  channel_.emplace(c2s, crypto::RecordSealer(keys->s2c, keys->s2c_iv), keys->data, l.features);
  auto reply = receive(config_.control_timeout);
  if (!reply) {
    channel_.reset();
    return broken("Connection to the server lost during login (or its answer did not open)");
  }
  if (const auto* raw = std::get_if<Raw>(&*reply); raw && raw->code == ext::kMsgExtLoginOk) {
    auto ok = ext::decode_ext_login_ok(raw->payload);
    if (!ok || (ok->features & ~l.features) != 0) {
      return broken("A malformed MSG_EXT_LOGIN_OK from the server");
    }
    const auto sealer = channel_->sealer();
    const auto opener = channel_->opener();
    channel_.emplace(sealer, opener, keys->data, ok->features);
    Outcome greeting = outcome_of(session_.on_message(Text{MsgCode::ok, ok->text}));
    if (!greeting) return greeting;
    return negotiate(std::move(greeting));
  }
  Outcome refused = outcome_of(session_.on_message(*reply));
  fd_.reset();
  channel_.reset();
  return refused;
}

// ssh mode, as the real client: run the ssh command, read MSG_LOGGED_STDIN (the daemon's check
// port), prove our address by connecting there with MSG_IPADDR (the daemon then takes data
// connections from that address only), or answer MSG_IPADDR with our address; then negotiate.
Outcome BbftpClient::connect_ssh() {
  auto where = io::resolve(config_.host, 0);
  if (!where || where->empty()) {
    return failure(Outcome::broken, client_error::kConnect,
                   "BBftp_Hostname not found (" + config_.host + ")");
  }
  server_ = where->front();
  if (config_.control_channel >= 0) {
    auto channel = own_channel();
    if (!channel) return broken("The control channel: " + channel.error().message());
    fd_ = std::move(*channel);
    return ssh_hello();
  }
  // What the real client's child says when ssh cannot be run (its code 46).
  auto child = io::spawn_connected(
      config_.ssh_command, "BBFTP-ERROR-00046 : Child: {pid} : Error while execvp ssh command (" +
                               config_.ssh_command.front() + ") : ");
  if (!child) {
    return failure(Outcome::broken, client_error::kSshStart,
                   "Error while execvp ssh command (" + config_.ssh_command.front() +
                       ") : " + child.error().message());
  }
  ssh_ = std::move(*child);
  fd_ = ssh_.take_channel();
  return ssh_hello();
}

io::Result<UniqueFd> BbftpClient::own_channel() const {
  UniqueFd fd(::fcntl(config_.control_channel, F_DUPFD_CLOEXEC, 0));
  if (!fd) return Unexpected(io::Error{errno, "duplicate the control channel"});
  return fd;
}

Outcome BbftpClient::ssh_hello() {
  session_.start_ssh();
  Outcome lost;
  auto hello = next_event(config_.control_timeout, lost);
  if (!hello) {
    ssh_.stop();
    return failure(Outcome::broken, client_error::kSshHello,
                   "Error waiting MSG_LOGGED_STDIN message");
  }
  const auto* h = std::get_if<SshHello>(&*hello);
  if (h == nullptr) return outcome_of(*hello);
  if (h->wants_address) {
    // Our address towards the server, as the kernel would pick it (no packet is sent).
    auto probe = io::local_address_towards(server_);
    if (!probe || probe->ipv4() == 0) {
      return broken("The server asks for an IPv4 address and we have none towards it");
    }
    local_ = *probe;
    Raw answer{static_cast<std::uint32_t>(MsgCode::ipaddr_ok), std::vector<std::uint8_t>(4)};
    const std::uint32_t ip = local_.ipv4();  // network order, as the real client sends it
    std::memcpy(answer.payload.data(), &ip, 4);
    if (!send({answer})) return broken("Connection to the server lost");
    return negotiate(failure(Outcome::ok, 0, ""));
  }
  io::SocketAddress check = server_;
  check.set_port(h->check_port);
  auto sock = io::connect_tcp(check, config_.connect_timeout);
  if (!sock) {
    return failure(Outcome::broken, client_error::kSshCheck,
                   "Cannot connect socket for MSG_IPADDR message : " + sock.error().message());
  }
  if (auto a = io::SocketAddress::of_local(sock->get())) local_ = *a;
  std::vector<std::byte> ask;
  encode_to(Empty{MsgCode::ipaddr}, ask);
  std::byte answer[kHeaderSize];
  if (!io::write_all(sock->get(), ask, config_.control_timeout) ||
      !io::read_exact(sock->get(), answer, config_.control_timeout) ||
      decode_header(answer).code != static_cast<std::uint32_t>(MsgCode::ipaddr_ok)) {
    return failure(Outcome::broken, client_error::kSshHello, "Error waiting MSG_IPADDR_OK message");
  }
  return negotiate(failure(Outcome::ok, 0, ""));
}

Outcome BbftpClient::negotiate(Outcome greeting) {
  Outcome lost;
  if (!session_.negotiates()) {
    session_.use_protocol_1();  // protocol 1 has no negotiation: the first command tells it
    return greeting;
  }
  if (!send({Empty{MsgCode::prot}})) return broken("Connection lost during negotiation");
  session_.sent_prot();
  auto range = next_event(config_.control_timeout, lost);
  if (!range) return lost;
  const auto* n = std::get_if<Negotiated>(&*range);
  if (n == nullptr) return outcome_of(*range);
  send({n->answer});
  if (!n->version) {
    fd_.reset();
    return failure(Outcome::refused, client_error::kIncompatible, "Incompatible deamon and client");
  }
  return greeting;
}

void BbftpClient::close() {
  if (fd_) send({Empty{MsgCode::close_conn}});
  fd_.reset();
  ssh_.stop();  // ssh ends once the daemon has gone and the channel is closed
}

Outcome BbftpClient::simple(const Message& request) {
  if (!fd_) return failure(Outcome::broken, client_error::kBroken, "Not connected");
  if (!send({request})) return broken("Connection to the server lost");
  session_.sent_command();
  Outcome lost;
  auto ev = next_event(config_.control_timeout, lost);
  return ev ? outcome_of(*ev) : lost;
}

namespace {
Outcome not_in_v1(const char* what) {
  return failure(Outcome::refused, client_error::kServer,
                 std::string(what) + " is not available in protocol 1");
}
}  // namespace

Outcome BbftpClient::cd(const std::string& dir) {
  if (!session_.features().v2_messages) return simple(Text{MsgCode::chdir, dir});
  return simple(DirCommand{MsgCode::chdir_v2, tropt::kClientDefault, dir});
}
Outcome BbftpClient::mkdir(const std::string& dir, std::uint32_t options) {
  if (!session_.features().v2_messages) return simple(Text{MsgCode::mkdir, dir});
  return simple(DirCommand{MsgCode::mkdir_v2, options, dir});
}
Outcome BbftpClient::rm(const std::string& path, std::uint32_t options) {
  if (!session_.features().v2_messages) return not_in_v1("rm");
  return simple(DirCommand{MsgCode::rm, options, path});
}
Outcome BbftpClient::stat(const std::string& path, std::uint32_t options) {
  if (!session_.features().v2_messages) return not_in_v1("stat");
  return simple(DirCommand{MsgCode::stat, options, path});
}
Outcome BbftpClient::df(const std::string& path, std::uint32_t options) {
  if (!session_.features().v2_messages) return not_in_v1("df");
  return simple(DirCommand{MsgCode::df, options, path});
}
Outcome BbftpClient::set_umask(std::uint32_t mask) {
  if (!session_.features().v2_messages) return not_in_v1("setremoteumask");
  return simple(IntCommand{MsgCode::chumask, static_cast<std::int32_t>(mask)});
}
Outcome BbftpClient::set_cos(std::int32_t cos) {
  if (!session_.features().v2_messages) return not_in_v1("setremotecos");
  return simple(IntCommand{MsgCode::chcos, cos});
}

Outcome BbftpClient::checksum(const std::string& path) {
  if (!fd_) return failure(Outcome::broken, client_error::kBroken, "Not connected");
  if (!channel_) {
    return failure(
        Outcome::refused, client_error::kServer,
        "checksum needs our bbftpd (the bbftp extension); this server does not announce it");
  }
  return simple(Raw{ext::kMsgExtChecksum, std::vector<std::uint8_t>(path.begin(), path.end())});
}

Outcome BbftpClient::list(const std::string& pattern, std::uint32_t options) {
  if (!fd_) return failure(Outcome::broken, client_error::kBroken, "Not connected");
  const Message request = !session_.features().v2_messages
                              ? Message(Text{MsgCode::list, pattern})
                              : Message(DirCommand{MsgCode::list_v2, options, pattern});
  if (!send({request})) return broken("Connection to the server lost");
  session_.sent_list();
  Outcome lost;
  auto ev = next_event(config_.control_timeout, lost);
  if (!ev) return lost;
  if (auto* l = std::get_if<Listing>(&*ev)) {
    Outcome o;
    o.listing = std::move(l->entries);
    return o;
  }
  return outcome_of(*ev);
}

ferry::Result<TransferReady, Outcome> BbftpClient::request_transfer(
    MsgCode code, const TransferParams& p, const std::string& remote,
    const std::optional<ext::ExtResume>& resume, std::optional<ext::ExtResume>* resumed) {
  std::vector<Message> request;
  if (resume) {
    // A store's wish to resume is an empty payload; a retrieve's is its offer.
    request.push_back(Raw{ext::kMsgExtResume, code == MsgCode::store_v2
                                                  ? std::vector<std::uint8_t>{}
                                                  : ext::encode(*resume)});
  }
  request.push_back(Transfer{code, p});
  request.push_back(Text{MsgCode::filename, remote});
  if (!send(request)) return Unexpected(broken("Connection to the server lost"));
  session_.sent_transfer();
  auto reply = receive(config_.control_timeout);
  if (!reply) return Unexpected(broken("Connection to the server lost"));
  if (const auto* raw = std::get_if<Raw>(&*reply);
      resume && raw != nullptr && raw->code == ext::kMsgExtResume) {
    auto r = ext::decode_ext_resume(raw->payload);
    if (!r) return Unexpected(broken("The server sent a malformed resume message"));
    if (resumed != nullptr) *resumed = std::move(*r);
    reply = receive(config_.control_timeout);
    if (!reply) return Unexpected(broken("Connection to the server lost"));
  }
  std::optional<ClientEvent> ev = session_.on_message(*reply);
  auto* ready = std::get_if<TransferReady>(&*ev);
  if (ready == nullptr) return Unexpected(outcome_of(*ev));
  if (ready->params.filesize > 0) transfer_number_ = transfers_++;  // as the daemon counts
  return std::move(*ready);
}

DataEndpoint BbftpClient::data_endpoint(const TransferSettings& s) const {
  DataEndpoint e;
  e.local = local_;
  e.peer = server_;
  e.first_port = config_.data_port_first;
  e.last_port = config_.data_port_last;
  if (s.apply_windows) {
    e.send_buffer_bytes = s.send_window_kb * 1024;
    e.recv_buffer_bytes = s.recv_window_kb * 1024;
  }
  e.timeout = config_.data_timeout;
  e.on_stranger = ignore_stranger;
  if (channel_ && (channel_->features() & ext::feature::kStreamProofs) != 0 &&
      session_.version() >= 2) {
    e.proof = StreamProof{channel_->data_key(), transfer_number_};
    e.on_unproven = [](const io::SocketAddress& from, const std::string& why) {
      spdlog::warn("data connection from {} refused: {}", from.to_string(), why);
    };
  }
  return e;
}

// After TRANS_OK: the data connections, in stream order. Protocol 3 connects to the daemon's
// ports and then sends TRANS_START_V3; protocol 2 listens, sends its ports in TRANS_START_V2 and
// accepts. A failure is the outcome to return.
ferry::Result<std::vector<UniqueFd>, Outcome> BbftpClient::start_data(
    const TransferPlan& plan, const std::vector<std::uint32_t>& ports, const TransferSettings& s,
    bool simulate) {
  const std::size_t n = plan.segments.size();
  const bool passive = session_.features().passive;
  if (n < 1 || (passive && ports.size() != n)) {
    return Unexpected(broken("The server accepted an impossible number of streams"));
  }
  const DataEndpoint at = data_endpoint(s);
  if (passive) {
    session_.started_transfer();
    const TransStartV3 start{simulate ? MsgCode::trans_simul_v3 : MsgCode::trans_start_v3,
                             static_cast<std::uint32_t>(4 * n)};
    // With proven streams, TRANS_START goes first: the daemon accepts (and vets) from then on,
    // so strangers who filled its listeners' queues before us cannot keep us out. Without, the
    // real client's order: connect, then TRANS_START.
    if (at.proof && !send({start})) return Unexpected(broken("Connection to the server lost"));
    auto socks = connect_all(at, ports, plan);
    if (!socks) {
      return Unexpected(broken("Cannot connect data socket: " + socks.error().error.message()));
    }
    if (!at.proof && !send({start})) return Unexpected(broken("Connection to the server lost"));
    return std::move(*socks);
  }
  auto listeners = DataListeners::open(at, static_cast<int>(n));
  if (!listeners) {
    send({Empty{MsgCode::abort}});  // tell the daemon; ABORT gets no reply
    session_.settled();
    return Unexpected(
        failure(Outcome::local_failure, client_error::kLocal, listeners.error().message()));
  }
  session_.started_transfer();
  const PortList start{simulate ? MsgCode::trans_simul : MsgCode::trans_start_v2,
                       listeners->ports()};
  if (!send({start})) return Unexpected(broken("Connection to the server lost"));
  auto socks = listeners->accept_all(at, plan);
  if (!socks) {
    return Unexpected(broken("Data connection from the server: " + socks.error().error.message()));
  }
  return std::move(*socks);
}

Outcome BbftpClient::finish_put(const std::optional<StreamError>& failed, std::uint64_t bytes,
                                int streams, TimePoint started) {
  Outcome o = final_reply();
  if (o && failed) return broken(failed->message);
  o.bytes = bytes;
  o.streams = streams;
  o.seconds = seconds_since(started);
  return o;
}

Outcome BbftpClient::finish_get(const std::optional<StreamError>& failed,
                                storage::AtomicWriter& writer, std::uint64_t bytes, int streams,
                                TimePoint started) {
  Outcome o = final_reply();
  if (!o) return o;  // the writer is dropped uncommitted: no partial file
  if (failed) return broken(failed->message);
  if (auto c = writer.commit(); !c) {
    return failure(Outcome::local_failure, client_error::kLocal, c.error().message());
  }
  o.bytes = bytes;
  o.streams = streams;
  o.seconds = seconds_since(started);
  return o;
}

Outcome BbftpClient::receive_empty(storage::AtomicWriter& writer, MsgCode abort) {
  session_.settled();  // CREATE_ZERO and the abort get no reply
  if (auto c = writer.commit(); !c) {
    send({Empty{abort}});
    return failure(Outcome::local_failure, client_error::kLocal, c.error().message());
  }
  if (!send({Empty{MsgCode::create_zero}})) return broken("Connection to the server lost");
  return Outcome{};
}

Outcome BbftpClient::cannot_create(const storage::Error& e, MsgCode abort) {
  send({Empty{abort}});
  session_.settled();
  return failure(Outcome::local_failure, client_error::kLocal, e.message());
}

std::optional<Outcome> BbftpClient::prepare_local_target(const storage::Sandbox& local,
                                                         const std::string& local_path,
                                                         std::uint32_t options, MsgCode abort) {
  auto refuse = [&](int code, std::string text) {
    send({Empty{abort}});
    session_.settled();
    return failure(Outcome::local_failure, code, std::move(text));
  };
  // A directory where the file should go. The real client finds it only when it renames its
  // temporary file (81) or opens the file (73, with notmpfile); we find it before any data
  // moves, with the same numbers.
  const auto target_is_directory = [&]() -> std::optional<Outcome> {
    auto st = local.stat(local_path);
    if (!st || st->type != storage::FileType::directory) return std::nullopt;
    return refuse(
        (options & tropt::kTmp) != 0 ? client_error::kLocalRename : client_error::kLocalIsDirectory,
        "File " + local_path + " is a directory");
  };
  const auto slash = local_path.rfind('/');
  if (slash == std::string::npos || slash == 0) return target_is_directory();  // "." or "/" exist
  if (slash == local_path.size() - 1) {
    return refuse(client_error::kLocalEndsWithSlash, "Filename " + local_path + " ends with a /");
  }
  const std::string dir = local_path.substr(0, slash);
  auto st = local.stat(dir);
  // A file where a directory should be: the real client finds it stating its file (72).
  const auto not_a_directory = [&] {
    return refuse(client_error::kLocalStat,
                  "Error stating file " + local_path + " : " + std::strerror(ENOTDIR));
  };
  if (st) {
    if (st->type == storage::FileType::directory) return target_is_directory();
    return not_a_directory();
  }
  if (st.error().sys_errno == ENOTDIR) return not_a_directory();
  if (st.error().sys_errno != ENOENT) {
    return refuse(client_error::kLocalStat,
                  "Error stating file " + dir + " : " + st.error().reason() + " ");
  }
  if ((options & tropt::kDir) == 0) {
    return refuse(client_error::kLocalNoCreateDir,
                  "Directory (" + dir + ") creation needed but TROPT_DIR not set");
  }
  if (auto made = local.mkdir(dir, 0777, true); !made) {
    return refuse(client_error::kLocalMkdir,
                  "Error creating directory " + dir + " : " + made.error().reason());
  }
  return std::nullopt;
}

Outcome BbftpClient::put(const storage::Sandbox& local, const std::string& local_path,
                         const std::string& remote_path, const TransferSettings& s) {
  if (!fd_) return failure(Outcome::broken, client_error::kBroken, "Not connected");
  auto st = local.stat(local_path);
  if (!st) {
    // The real client's words, trailing space included.
    return failure(Outcome::local_failure, client_error::kLocalStat,
                   "Error stating file " + local_path + " : " + st.error().reason() + " ");
  }
  if (st->type == storage::FileType::directory) {
    return failure(Outcome::local_failure, client_error::kLocalIsDirectory,
                   "File " + local_path + " is a directory");
  }
  auto file = local.open_read(local_path);
  if (!file) return failure(Outcome::local_failure, client_error::kLocal, file.error().message());
  if (!session_.features().v2_messages) return put_v1(*st, *file, remote_path, s);

  TransferParams p;
  p.filesize = static_cast<std::int64_t>(st->size);
  p.transferoption = s.options;
  p.filemode = st->mode & 07777;
  p.lastaccess = encode_time(st->atime);
  p.lastmodif = encode_time(st->mtime);
  p.sendwinsize = s.send_window_kb;
  p.recvwinsize = s.recv_window_kb;
  p.buffersize = s.buffer_kb;
  p.nbstream = streams_for(p.filesize, s.streams, s.buffer_kb, 1 << 20);

  const auto started = std::chrono::steady_clock::now();
  const bool resume = resumable() && s.resume && !s.simulate && st->size > 0;
  // The block sums are hashed from now on, while the daemon preallocates the file: in the order
  // of the plan we asked for (the daemon may grant fewer streams: then in a worse order). A
  // resume waits for its plan: much of the file may be there already.
  std::optional<SumsAhead> ahead;
  if (!resume) {
    TransferPlan asked = plan_for(st->size, p, s);
    plan_blocks(asked, ext::integrity_block(asked.size));
    hash_ahead(ahead, *file, asked, s);
  }
  std::optional<ext::ExtResume> offer;
  auto ready = request_transfer(MsgCode::store_v2, p, remote_path,
                                resume ? std::optional(ext::ExtResume{}) : std::nullopt, &offer);
  if (!ready) {
    auto o = std::move(ready).error();  // an empty file is done with MSG_OK ""
    o.seconds = seconds_since(started);
    return o;
  }
  const TransferParams accepted = ready->params;
  if (!sane_streams(accepted, p.nbstream)) {
    return broken("The server accepted an impossible number of streams");
  }
  TransferPlan plan = plan_for(st->size, accepted, s);
  Resumed resumed{ext::ExtResume{st->size, {}}, {}, {}};
  if (offer) {  // the daemon's partial data: what of it our file matches, answered first
    auto answer = answer_offer(*file, st->size, *offer, checksum_kind().block, resumed.sums);
    if (answer) resumed.answer = std::move(*answer);
    if (!send({Raw{ext::kMsgExtResume, ext::encode(resumed.answer)}})) {
      return broken("Connection to the server lost");
    }
  }
  if (checksums()) {
    plan_blocks(plan, ext::integrity_block(plan.size), present_segments(resumed.answer));
    if (!ahead) hash_ahead(ahead, *file, plan, s);
  }
  auto opened = start_data(plan, ready->ports, s, s.simulate);
  if (!opened) return std::move(opened).error();
  std::vector<UniqueFd> socks = std::move(*opened);
  if (checksums() && !s.simulate) {
    return put_checked(*file, local_path, plan, socks, accepted.nbstream, started,
                       std::move(resumed), ahead ? &*ahead : nullptr);
  }
  std::optional<StreamError> failed;
  if (!s.simulate) {
    failed = move_streams(socks, *file, plan, DataDirection::send, stream_timeouts(),
                          config_.on_progress);
  }
  socks.clear();
  return finish_put(failed, st->size, accepted.nbstream, started);
}

Outcome BbftpClient::get(const storage::Sandbox& local, const std::string& remote_path,
                         const std::string& local_path, const TransferSettings& s) {
  if (!fd_) return failure(Outcome::broken, client_error::kBroken, "Not connected");
  if (!session_.features().v2_messages) return get_v1(local, remote_path, local_path, s);
  TransferParams p;
  p.transferoption = s.options;
  p.sendwinsize = s.send_window_kb;
  p.recvwinsize = s.recv_window_kb;
  p.buffersize = s.buffer_kb;
  p.nbstream = s.streams;
  const auto started = std::chrono::steady_clock::now();
  // With resume: our partial data is read first (a writer opened for that alone), and offered.
  std::optional<PartialOffer> partial;
  if (resumable() && s.resume) {
    storage::WriteOptions peek;
    peek.resumable = true;
    if (auto w = local.create(local_path, peek); w && w->resume_size() > 0) {
      if (auto o = offer_partial(*w, std::nullopt); o) partial = std::move(*o);
    }                                 // destroyed: the partial data stays for the writer below
    if (!partial) partial.emplace();  // nothing to offer: the daemon answers nothing
  }
  std::optional<ext::ExtResume> answer;
  auto ready = request_transfer(MsgCode::retr_v2, p, remote_path,
                                partial ? std::optional(partial->offer) : std::nullopt, &answer);
  if (!ready) return std::move(ready).error();
  const TransferParams accepted = ready->params;
  const std::vector<std::uint32_t> ports = ready->ports;
  if (accepted.filesize < 0) return broken("The server announced a negative size");
  const auto size = static_cast<std::uint64_t>(accepted.filesize);
  storage::WriteOptions wo;
  wo.preallocate = size;
  wo.resumable = resumable() && size > 0;
  if ((s.options & tropt::kMode) != 0) {
    wo.mode = accepted.filemode & 07777;
    wo.exact_mode = true;
  }
  if (auto refused = prepare_local_target(local, local_path, s.options, MsgCode::abort)) {
    return std::move(*refused);
  }
  auto writer = local.create(local_path, wo);
  if (!writer) return cannot_create(writer.error(), MsgCode::abort);
  if ((s.options & tropt::kAcc) != 0) {
    const auto at = decode_time(accepted.lastaccess), mt = decode_time(accepted.lastmodif);
    if (at >= 0 && mt >= 0) (void)writer->set_times(at, mt);
  }
  if (size == 0) {
    Outcome o = receive_empty(*writer, MsgCode::abort);
    if (o) o.seconds = seconds_since(started);
    return o;
  }
  if (!sane_streams(accepted, p.nbstream)) {
    return broken("The server accepted an impossible number of streams");
  }
  TransferPlan plan = plan_for(size, accepted, s);
  Resumed resumed{ext::ExtResume{size, {}}, {}, {}};
  if (answer && partial && answer->size == size && ext::answers(*answer, partial->offer)) {
    resumed.answer = std::move(*answer);
    resumed.verified = std::move(partial->blocks);
  } else if (answer && !answer->ranges.empty()) {
    send({Empty{MsgCode::abort}});
    session_.settled();
    return broken("The server answered a resume offer we did not make");
  }
  if (wo.resumable && resumed.answer.ranges.empty() && writer->resume_size() > 0) {
    if (auto d = writer->discard_partial(); !d) return cannot_create(d.error(), MsgCode::abort);
  } else if (!resumed.answer.ranges.empty() && writer->resume_size() == 0) {
    send({Empty{MsgCode::abort}});  // our partial data went away since we offered it
    session_.settled();
    return failure(Outcome::local_failure, client_error::kLocal,
                   "the partial data of " + local_path + " went away: run the get again");
  }
  if (checksums()) {
    plan_blocks(plan, ext::integrity_block(plan.size), present_segments(resumed.answer));
  }
  auto opened = start_data(plan, ports, s, false);
  if (!opened) return std::move(opened).error();
  std::vector<UniqueFd> socks = std::move(*opened);
  if (checksums()) {
    return get_checked(*writer, plan, socks, accepted.nbstream, started, std::move(resumed));
  }
  auto failed = move_streams(socks, writer->file(), plan, DataDirection::receive, stream_timeouts(),
                             config_.on_progress);
  socks.clear();
  return finish_get(failed, *writer, size, accepted.nbstream, started);
}

void BbftpClient::hash_ahead(std::optional<SumsAhead>& ahead, const storage::File& file,
                             const TransferPlan& plan, const TransferSettings& s) {
  if (!checksums() || s.simulate || plan.compressed || plan.size == 0) return;
  ahead.emplace(file, checksum_kind().block, plan.integrity_block, plan.size, sending_order(plan),
                SumsAhead::default_window());
}

// The extension's put: block sums on the streams, then our whole-file sum in MSG_EXT_SUM (or
// why there is none: the file changed, the streams failed); the daemon commits only on a match.
Outcome BbftpClient::put_checked(const storage::File& file, const std::string& local_path,
                                 const TransferPlan& plan, std::vector<UniqueFd>& socks,
                                 int streams, TimePoint started, Resumed resumed,
                                 SumsAhead* ahead) {
  const auto before = file_version(file);
  TransferSums sums{
      checksum_kind().block, std::move(resumed.sums), 0, plan.size - plan.planned_bytes(), {}};
  sums.ahead = ahead;
  auto failed = move_streams(socks, file, plan, DataDirection::send, stream_timeouts(),
                             config_.on_progress, &sums);
  socks.clear();
  const auto after = file_version(file);
  const bool changed =
      !before || !after || *before != *after || (failed && failed->sys_errno == ESTALE);
  const auto whole_digest = checksum_kind().whole;
  ext::ExtSum sum;
  sum.digest = checksum_kind().code;
  if (changed) {
    sum.flags |= ext::ExtSum::kChanged;
  } else if (failed) {
    sum.flags |= ext::ExtSum::kStreamsFailed;
  }
  const auto whole = whole_file_sum(whole_digest, plan.size, plan.integrity_block, sums.sums);
  sum.sum = sum.flags == 0 ? whole : std::vector<std::uint8_t>(sum.digest == 2 ? 32 : 16);
  if (!send({Raw{ext::kMsgExtSum, ext::encode(sum)}})) {
    return broken("Connection to the server lost");
  }
  Outcome o = final_reply();
  if (changed) {
    return failure(Outcome::local_failure, client_error::kLocal,
                   local_path + " changed while being sent: nothing was put in place");
  }
  if (o && failed) return broken(failed->message);
  if (!o) return o;
  o.bytes = plan.size;
  o.streams = streams;
  o.seconds = seconds_since(started);
  o.checksum = std::string(storage::to_string(whole_digest)) + " " + storage::to_hex(whole);
  o.blocks_resent = sums.resent;
  o.resumed_bytes = resumed.answer.bytes();
  return o;
}

// The extension's get: block sums on the streams, the daemon's whole-file sum in MSG_EXT_SUM
// before its final reply, and the file takes its name only when ours matches it.
Outcome BbftpClient::get_checked(storage::AtomicWriter& writer, const TransferPlan& plan,
                                 std::vector<UniqueFd>& socks, int streams, TimePoint started,
                                 Resumed resumed) {
  const auto digest = checksum_kind().block;
  TransferSums sums{digest, std::move(resumed.sums), 0, plan.size - plan.planned_bytes(), {}};
  storage::RecordJournal journal;
  if (writer.resumable()) {
    // A failure to keep the record costs only the resume; a failure to read the answered blocks
    // back fails the checksum at the end.
    (void)answered_sums(writer.file(), resumed.answer, resumed.verified, digest, sums.sums);
    if (auto j = start_record(writer, resumed.answer, resumed.verified)) journal = std::move(*j);
    sums.arrived = [&journal, digest](std::uint64_t index, Bytes data,
                                      const std::vector<std::uint8_t>& sum) {
      if (journal) (void)journal.append(index, record_entry(digest, data, sum));
    };
  }
  auto failed = move_streams(socks, writer.file(), plan, DataDirection::receive, stream_timeouts(),
                             config_.on_progress, &sums);
  socks.clear();
  auto m = receive(config_.control_timeout);
  if (!m) return broken("Connection to the server lost");
  const auto* raw = std::get_if<Raw>(&*m);
  const auto theirs = raw != nullptr && raw->code == ext::kMsgExtSum
                          ? ext::decode_ext_sum(raw->payload)
                          : std::nullopt;
  if (!theirs || theirs->digest != checksum_kind().code) {
    return broken("The server sent no checksum after the data");
  }
  // The server's file changed while being sent: what arrived is of no use to a resume either.
  if ((theirs->flags & ext::ExtSum::kChanged) != 0) writer.abort(storage::Partial::drop);
  Outcome o = final_reply();
  if (!o) return o;  // the writer is dropped uncommitted: no partial file
  if (failed) return broken(failed->message);
  const auto whole_digest = checksum_kind().whole;
  const auto mine = whole_file_sum(whole_digest, plan.size, plan.integrity_block, sums.sums);
  if (theirs->flags != 0 || theirs->sum != mine) {
    writer.abort(storage::Partial::drop);  // what arrived does not make the file
    return failure(Outcome::broken, client_error::kLocal,
                   "Checksum mismatch (" + std::string(storage::to_string(whole_digest)) +
                       " ours " + storage::to_hex(mine) + ", the server's " +
                       storage::to_hex(theirs->sum) + "): nothing was put in place");
  }
  if (auto c = writer.commit(); !c) {
    return failure(Outcome::local_failure, client_error::kLocal, c.error().message());
  }
  o.bytes = plan.size;
  o.streams = streams;
  o.seconds = seconds_since(started);
  o.checksum = std::string(storage::to_string(whole_digest)) + " " + storage::to_hex(mine);
  o.blocks_resent = sums.resent;
  o.resumed_bytes = resumed.answer.bytes();
  return o;
}

namespace {
// Protocol 1: the client listens, and its ports go in the request.
ferry::Result<DataListeners, Outcome> listen_v1(const DataEndpoint& at, int n, StoreV1& req) {
  auto listeners = DataListeners::open(at, n);
  if (!listeners) {
    return Unexpected(
        failure(Outcome::local_failure, client_error::kLocal, listeners.error().message()));
  }
  req.nbport = n;
  std::copy(listeners->ports().begin(), listeners->ports().end(), req.ports.begin());
  return std::move(*listeners);
}
}  // namespace

// Protocol 1: the daemon did not connect to our data ports. Its reply says why (it could not
// connect, or refused); if it has nothing to say, our side's reason stands.
Outcome BbftpClient::v1_accept_failed(const DataOpenError& e) {
  Outcome reply = final_reply();
  if (!reply) return reply;
  return broken("Data connection " + std::to_string(e.stream) + " not made: " + e.error.message());
}

Outcome BbftpClient::put_v1(const storage::FileStat& st, const storage::File& file,
                            const std::string& remote_path, const TransferSettings& s) {
  if (remote_path.size() >= kV1FilenameSize) {
    return failure(Outcome::refused, client_error::kServer, "File name too long for protocol 1");
  }
  const int n = streams_for(static_cast<std::int64_t>(st.size), s.streams, s.buffer_kb,
                            static_cast<int>(kV1MaxPorts));
  StoreV1 req;
  req.code = (s.options & tropt::kGzip) != 0 ? MsgCode::store_c : MsgCode::store;
  req.set_filename(remote_path);
  req.filesize = static_cast<std::int64_t>(st.size);
  const DataEndpoint at = data_endpoint(s);
  auto listeners = listen_v1(at, n, req);
  if (!listeners) return std::move(listeners).error();
  const auto started = std::chrono::steady_clock::now();
  if (!send({req})) return broken("Connection to the server lost");
  session_.started_transfer();  // no reply precedes the data: the final one, or a refusal
  std::optional<StreamError> failed;
  if (st.size > 0) {
    const TransferPlan plan = plan_transfer(st.size, n, 0, s.options, kV1BlockBytes);
    auto socks = listeners->accept_all(at, plan);
    if (!socks) return v1_accept_failed(socks.error());
    failed = move_streams(*socks, file, plan, DataDirection::send, stream_timeouts(),
                          config_.on_progress);
  }
  return finish_put(failed, st.size, n, started);
}

Outcome BbftpClient::get_v1(const storage::Sandbox& local, const std::string& remote_path,
                            const std::string& local_path, const TransferSettings& s) {
  if (remote_path.size() >= kV1FilenameSize) {
    return failure(Outcome::refused, client_error::kServer, "File name too long for protocol 1");
  }
  StoreV1 req;
  req.code = (s.options & tropt::kGzip) != 0 ? MsgCode::retr_c : MsgCode::retr;
  req.set_filename(remote_path);
  const DataEndpoint at = data_endpoint(s);
  const int n = std::clamp(s.streams, 1, static_cast<int>(kV1MaxPorts));
  auto listeners = listen_v1(at, n, req);
  if (!listeners) return std::move(listeners).error();
  const auto started = std::chrono::steady_clock::now();
  if (!send({req})) return broken("Connection to the server lost");
  session_.sent_transfer();
  Outcome lost;
  auto ev = next_event(config_.control_timeout, lost);
  if (!ev) return lost;
  const auto* ready = std::get_if<TransferReady>(&*ev);
  if (ready == nullptr) return outcome_of(*ev);
  if (ready->params.filesize < 0) return broken("The server announced a negative size");
  const auto size = static_cast<std::uint64_t>(ready->params.filesize);
  storage::WriteOptions wo;
  wo.preallocate = size;
  if (auto refused = prepare_local_target(local, local_path, s.options, MsgCode::abr)) {
    return std::move(*refused);
  }
  auto writer = local.create(local_path, wo);
  if (!writer) return cannot_create(writer.error(), MsgCode::abr);
  if (size == 0) return receive_empty(*writer, MsgCode::abr);
  if (!send({Empty{MsgCode::retr_start}})) return broken("Connection to the server lost");
  session_.started_transfer();
  const TransferPlan plan = plan_transfer(size, n, 0, s.options, kV1BlockBytes);
  auto socks = listeners->accept_all(at, plan);
  if (!socks) return v1_accept_failed(socks.error());
  auto failed = move_streams(*socks, writer->file(), plan, DataDirection::receive,
                             stream_timeouts(), config_.on_progress);
  return finish_get(failed, *writer, size, n, started);
}

}  // namespace ferry::session
