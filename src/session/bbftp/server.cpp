#include "session/bbftp/server.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <vector>

#include "core/bulk_buffer.hpp"
#include "core/overloaded.hpp"
#include "core/printable.hpp"
#include "crypto/bbftp_keys.hpp"
#include "crypto/host_key.hpp"
#include "crypto/rsa.hpp"
#include "proto/bbftp/codec.hpp"
#include "proto/bbftp/extension.hpp"
#include "proto/bbftp/replies.hpp"
#include "session/bbftp/data_channel.hpp"
#include "session/bbftp/resume.hpp"
#include "session/bbftp/streams.hpp"
#include "session/bbftp/sums_ahead.hpp"
#include "storage/atomic_writer.hpp"

namespace ferry::session {
namespace {

using namespace bbftp;
namespace rp = bbftp::replies;

// Clear-text logins carry NUL-terminated strings in the 128-byte fields.
std::string c_string(const std::array<std::uint8_t, kRsaBytes>& field) {
  const auto* p = reinterpret_cast<const char*>(field.data());
  return std::string(p, ::strnlen(p, field.size()));
}

struct PendingTransfer {
  bool store = true;
  std::string path;
  std::optional<storage::AtomicWriter> writer;
  std::optional<storage::File> reader;
  bool qbss = false;         // mark the data sockets (the client asked; a store's echo drops it)
  DataListeners listeners;   // protocol 3: ours, until the client has connected
  std::uint32_t number = 0;  // of the session's transfers with data: the streams' proofs say it
  std::chrono::steady_clock::time_point started;
  // The extension's checksums: the file as opened (a retrieve), and a store's outcome while it
  // waits for the client's sum.
  std::optional<FileVersion> version;
  std::optional<StreamError> failed;
  std::vector<std::uint8_t> whole;
  std::uint64_t resent = 0;
  TransferPlan plan;
  // The extension's resume (section 6): a store's offer of our partial data, the answer (the
  // client's to a store's offer, ours to a retrieve's), the answered blocks' sums, and a store's
  // record with the bytes that arrived (counted from the streams' threads).
  std::optional<PartialOffer> offer;
  std::optional<ext::ExtResume> answer;
  std::vector<std::vector<std::uint8_t>> sums;
  storage::RecordJournal journal;
  std::unique_ptr<std::atomic<std::uint64_t>> received =
      std::make_unique<std::atomic<std::uint64_t>>(0);
  // A checked retrieve's sums, hashed while the client prepares (last: it reads `reader`).
  std::unique_ptr<SumsAhead> ahead;
};

class Connection {
 public:
  Connection(UniqueFd control, const BbftpServerOptions& options)
      : fd_(std::move(control)), options_(options), session_(options.protocol) {}

  std::optional<HandedOver> run_prelogin(const AskLogin& check,
                                         const std::function<bool()>& confine,
                                         const SignAnnouncement& sign);
  void run_session(storage::Sandbox sandbox, std::string_view user, HandedOver state);
  void run_ssh_session(int out, storage::Sandbox sandbox, std::string_view user,
                       const SshPeer& peer);

 private:
  void learn_addresses();
  // Reads, decodes and serves until the connection ends or (pre-login) is handed over.
  void serve(std::vector<std::byte> buf);
  bool send(const Step& step);
  bool handle(Step step);
  Step execute(const Request& r);
  Step login(const LoginRequest& r);
  Step ext_login(const ExtLoginRequest& r);
  // The monitor's verdict as the client hears it: nothing for an accepted login (the caller
  // hands it over; the session process answers), else the refusal.
  std::optional<Step> refusal_for(LoginOutcome outcome);
  // The extension's announcement in `key`, signed by the monitor; false: the connection ends.
  bool announce_extension(CryptKey& key, const SignAnnouncement& sign);
  Step dir_command(const DirRequest& r);
  Step list(const DirRequest& r);
  Step prepare(const TransferRequest& r);
  Step prepare_store(const TransferRequest& r);
  Step prepare_retrieve(const TransferRequest& r);
  Step start(const StartRequest& r);
  Step v1_dir(const V1DirRequest& r);
  Step v1_transfer(const V1TransferRequest& r);
  Step v1_retrieve_start(const V1RetrieveStart& r);
  // Moves the data of the pending transfer over `socks` (one segment each) and sends the final
  // reply: commit (store) and MSG_OK "OK", or the failure.
  Step move_data(std::vector<UniqueFd> socks, const TransferPlan& plan);
  // The extension's end-to-end checksums (section 7): on for this session's transfers?
  bool checksums() const {
    return channel_ && (channel_->features() & ext::feature::kChecksums) != 0 &&
           session_.version() >= 2;
  }
  bool sha256() const { return (channel_->features() & ext::feature::kSha256) != 0; }
  ChecksumKind checksum_kind() const { return ChecksumKind::of(sha256()); }
  // The extension's resume: our partial data kept for a store, offered when asked.
  bool resumable() const {
    return checksums() && (channel_->features() & ext::feature::kResume) != 0;
  }
  // A store's offer answered by the client (MSG_EXT_RESUME before TRANS_START).
  Step resume_answer(const ResumeAnswerRequest& r);
  // What a checked transfer skips (answered) and the plan over the rest; a store's record.
  void plan_checked(PendingTransfer& t, TransferPlan& plan);
  Step move_checked(std::vector<UniqueFd> socks, const TransferPlan& plan);
  // The client's MSG_EXT_SUM after a store: commit when it matches ours, or say why not.
  Step finish_store(const SumRequest& r);
  // MSG_EXT_CHECKSUM: a stored file's checksum, as a transfer of it would compute it.
  Step stored_checksum(const ChecksumRequest& r);
  // Where data connections go and come from: the control connection's hosts.
  DataEndpoint data_endpoint();
  ferry::Result<std::vector<std::uint32_t>, std::string> open_listeners(int n);
  // Accepts the pending transfer, with our listening ports in protocol 3 (passive).
  Step accept_with_ports(const TransferParams& params, std::optional<Message> resume = {});
  io::Timeout read_timeout() const;
  std::string who() const { return user_.empty() ? peer_ : user_ + "@" + peer_; }
  // A data connection from another host than the control connection's (it is closed).
  void stranger_on_data_port(const io::SocketAddress& from);
  // A data connection from the client's host without the session's proof (it is closed).
  void unproven_on_data_port(const io::SocketAddress& from, const std::string& why);

  UniqueFd fd_;
  int out_ = -1;  // where replies go when not to fd_ (ssh mode: standard output)
  const BbftpServerOptions& options_;
  ServerSession session_;
  std::optional<crypto::RsaPrivateKey> key_;
  // The bbftp extension: our X25519 secret and nonce while the login is pending, MSG_CRYPT's
  // payload for the transcript, then the sealed channel everything goes through.
  std::optional<crypto::X25519Secret> share_;
  std::array<std::uint8_t, 32> server_nonce_{};
  std::vector<std::uint8_t> crypt_payload_;
  std::optional<crypto::BbftpChannel> channel_;
  std::uint32_t transfers_ = 0;  // transfers with data so far (their streams' proofs number them)
  std::optional<storage::Sandbox> sandbox_;
  std::optional<PendingTransfer> pending_;
  const AskLogin* check_ = nullptr;   // pre-login: asks the monitor
  std::optional<HandedOver> handed_;  // pre-login: the login was accepted
  std::string user_;
  std::string peer_;
  io::SocketAddress local_;
  io::SocketAddress remote_;
  std::chrono::steady_clock::time_point login_by_;
  RateLimit stranger_log_{1, 5};  // strangers can knock as often as they like: log a few
};

io::Timeout Connection::read_timeout() const {
  switch (session_.state()) {
    case ServerState::awaiting_filename:
    case ServerState::awaiting_start:
    case ServerState::awaiting_create_zero:
    case ServerState::awaiting_protocol:
      return options_.step;
    case ServerState::awaiting_login: {
      const auto left =
          std::chrono::duration_cast<io::Timeout>(login_by_ - std::chrono::steady_clock::now());
      return std::clamp(left, io::Timeout(0), options_.control);
    }
    case ServerState::awaiting_sum:  // the client sends it once its streams are done
      return pending_ && pending_->failed ? options_.step : options_.control;
    default:
      return options_.idle;
  }
}

void Connection::stranger_on_data_port(const io::SocketAddress& from) {
  if (!stranger_log_.allow(std::chrono::steady_clock::now())) return;
  const auto skipped = stranger_log_.take_suppressed();
  spdlog::warn("{}: data connection from {} port {} closed: not the client's address{}", who(),
               from.host(), from.port(),
               skipped > 0 ? fmt::format(" ({} more not logged)", skipped) : "");
}

void Connection::unproven_on_data_port(const io::SocketAddress& from, const std::string& why) {
  if (!stranger_log_.allow(std::chrono::steady_clock::now())) return;
  const auto skipped = stranger_log_.take_suppressed();
  spdlog::warn("{}: data connection from {} port {} refused: {}{}", who(), from.host(), from.port(),
               why, skipped > 0 ? fmt::format(" ({} more not logged)", skipped) : "");
}

bool Connection::send(const Step& step) {
  if (step.replies.empty()) return true;
  std::vector<std::byte> out;
  for (const auto& m : step.replies) encode_to(m, out);
  if (channel_) out = channel_->seal(out);
  if (auto w = io::write_all(out_ >= 0 ? out_ : fd_.get(), out, options_.control); !w) {
    spdlog::warn("{}: cannot send reply: {}", who(), w.error().message());
    return false;
  }
  return true;
}

// Sends a step's replies, then carries out its request and sends that outcome, and so on.
bool Connection::handle(Step step) {
  for (;;) {
    if (!send(step)) return false;
    if (step.close) return false;
    if (!step.request) return true;
    const Request r = std::move(*step.request);
    step = execute(r);
  }
}

void Connection::learn_addresses() {
  io::set_nodelay(fd_.get());
  if (auto a = io::SocketAddress::of_local(fd_.get())) local_ = *a;
  if (auto a = io::SocketAddress::of_peer(fd_.get())) {
    remote_ = *a;
    peer_ = a->to_string();
  }
}

bool Connection::announce_extension(CryptKey& key, const SignAnnouncement& sign) {
  auto secret = crypto::X25519Secret::generate();
  if (!secret) {
    spdlog::error("{}: the extension's key exchange: {}", who(), secret.error());
    return false;
  }
  const std::uint32_t features = bbftp::ext::feature::kStreamProofs |
                                 bbftp::ext::feature::kChecksums | bbftp::ext::feature::kSha256 |
                                 bbftp::ext::feature::kResume;
  auto signed_by_monitor = sign ? sign(features, secret->share(), key) : std::nullopt;
  if (!signed_by_monitor) {
    spdlog::error("{}: the monitor did not sign the extension's announcement: served without it",
                  who());
    return false;
  }
  ext::Announcement a;
  a.features = features;
  a.nonce = signed_by_monitor->nonce;
  a.share = secret->share();
  a.host_key = signed_by_monitor->host_key;
  a.signature = signed_by_monitor->signature;
  key.appended = ext::encode(a);
  const auto whole = encode(Message(key));
  crypt_payload_.clear();
  for (std::size_t i = kHeaderSize; i < whole.size(); ++i) {
    crypt_payload_.push_back(static_cast<std::uint8_t>(whole[i]));
  }
  server_nonce_ = a.nonce;
  share_ = std::move(*secret);
  return true;
}

std::optional<HandedOver> Connection::run_prelogin(const AskLogin& check,
                                                   const std::function<bool()>& confine,
                                                   const SignAnnouncement& sign) {
  login_by_ = std::chrono::steady_clock::now() + options_.login_deadline;
  check_ = &check;
  learn_addresses();
  auto key = crypto::RsaPrivateKey::generate();
  if (!key) {
    spdlog::error("{}: {}", who(), key.error());
    return std::nullopt;
  }
  key_ = std::move(*key);
  CryptKey announce{{kCryptRsaOaep, 0, 0}, key_->modulus_mpi(), key_->exponent_mpi(), {}};
  announce.sec.pubkeylen = static_cast<std::int32_t>(announce.modulus_mpi.size());
  announce.sec.expolen = static_cast<std::int32_t>(announce.exponent_mpi.size());
  // Without the signature, no announcement: real clients are served as ever, and ours refuse
  // a pinned daemon that stops announcing (they say so).
  if (options_.protocol.extension && !announce_extension(announce, sign)) announce.appended.clear();
  if (confine && !confine()) return std::nullopt;
  if (!send(Step{{announce}, std::nullopt, false})) return std::nullopt;
  serve({});
  return std::move(handed_);
}

void Connection::run_session(storage::Sandbox sandbox, std::string_view user, HandedOver state) {
  learn_addresses();
  user_ = printable(user, 64);
  sandbox_ = std::move(sandbox);
  spdlog::info("login of user \"{}\" from {} port {}, cwd {}", user_, remote_.host(),
               remote_.port(), printable(sandbox_->cwd()));
  if (sandbox_->confined()) {
    // Uploads of a session that was killed (kill -9, a forbidden system call, a crash) left
    // their temporaries behind, hidden: the user's next login gives their space back, and
    // partial data kept for resume goes once unchanged past its expiry.
    constexpr std::size_t kSweepEntries = 100000;
    if (auto swept = sandbox_->remove_stale_temporaries(options_.partial_expiry, kSweepEntries);
        swept && *swept > 0) {
      spdlog::info("{}: removed {} temporaries of uploads an ended session left behind", who(),
                   *swept);
    }
  }
  std::vector<std::byte> pending = std::move(state.pending);
  if (state.channel) {
    channel_ = std::move(state.channel);
    std::vector<std::byte> clear;
    if (!channel_->open(pending, clear)) {
      spdlog::warn("{}: a control record that does not open: closed", who());
      return;
    }
    pending = std::move(clear);
    spdlog::info(
        "{}: bbftp extension: sealed control channel{}", who(),
        (channel_->features() & ext::feature::kStreamProofs) != 0 ? ", data streams proven" : "");
    if (!handle(session_.ext_login_accepted(channel_->features()))) return;
  } else if (!handle(session_.login_result(true))) {
    return;
  }
  serve(std::move(pending));
}

void Connection::serve(std::vector<std::byte> buf) {
  std::size_t start = 0;
  std::vector<std::byte> chunk(64 * 1024);
  for (;;) {
    // Decode everything buffered before reading more.
    for (;;) {
      Bytes avail(buf.data() + start, buf.size() - start);
      auto d = decode_next(avail, session_.context());
      if (!d) {
        if (d.error() == Errc::need_more) break;
        spdlog::warn("{}: {}", who(), to_string(d.error()));
        handle(session_.on_protocol_error(d.error()));
        return;
      }
      start += d->consumed;
      if (!handle(session_.on_message(d->message))) return;
      if (handed_) {  // accepted: the rest is the session's
        handed_->pending.assign(buf.begin() + static_cast<std::ptrdiff_t>(start), buf.end());
        return;
      }
    }
    if (start > 0) {
      buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(start));
      start = 0;
    }
    auto n = io::read_some(fd_.get(), chunk, read_timeout());
    if (n && channel_) {
      if (auto opened = channel_->open(Bytes(chunk.data(), *n), buf); !opened) {
        spdlog::warn("{}: {}: closed", who(),
                     opened.error() == crypto::BbftpChannel::Error::too_long
                         ? "a control record longer than any we send"
                         : "a control record that does not open (changed or forged)");
        return;
      }
      continue;
    }
    if (!n) {
      if (session_.state() == ServerState::awaiting_login && !n.error().eof()) {
        spdlog::warn(
            "connection from {} port {} closed: no login within {} s", remote_.host(),
            remote_.port(),
            std::chrono::duration_cast<std::chrono::seconds>(options_.login_deadline).count());
      } else if (n.error().eof()) {
        spdlog::debug("{}: closed by the client", who());
      } else {
        spdlog::info("{}: {} (state {})", who(), n.error().message(), to_string(session_.state()));
      }
      return;
    }
    buf.insert(buf.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(*n));
  }
}

Step Connection::execute(const Request& r) {
  return std::visit(
      Overloaded{
          [&](const LoginRequest& l) { return login(l); },
          [&](const ExtLoginRequest& l) { return ext_login(l); },
          [&](const StatusRequest&) {
            Step s;
            s.replies.push_back(rp::ok(options_.status_text ? options_.status_text() : ""));
            s.close = true;
            return s;
          },
          [&](const DirRequest& d) { return dir_command(d); },
          [&](const UmaskRequest& u) {
            const auto old = sandbox_->set_umask(u.mask);
            return session_.reply(rp::umask_changed(old, u.mask));
          },
          [&](const TransferRequest& t) { return prepare(t); },
          [&](const StartRequest& s) { return start(s); },
          [&](const SumRequest& sum) { return finish_store(sum); },
          [&](const ResumeAnswerRequest& a) { return resume_answer(a); },
          [&](const ChecksumRequest& c) { return stored_checksum(c); },
          [&](const AbortRequest&) {
            pending_.reset();  // an uncommitted writer leaves nothing behind
            return Step{};
          },
          [&](const V1TransferRequest& v) { return v1_transfer(v); },
          [&](const V1RetrieveStart& v) { return v1_retrieve_start(v); },
          [&](const V1DirRequest& v) { return v1_dir(v); },
      },
      r);
}

Step Connection::login(const LoginRequest& r) {
  if (check_ == nullptr || !key_) return session_.login_result(false);
  std::string user, pass;
  bool undecryptable = false;
  if (r.clear_text) {
    user = c_string(r.login.user);
    pass = c_string(r.login.pass);
  } else {
    const auto size = static_cast<std::int32_t>(kRsaBytes);
    auto u = r.login.numuser == size ? key_->decrypt(r.login.user)
                                     : crypto::Result<std::string>(Unexpected(std::string("len")));
    auto p = r.login.numpass == size ? key_->decrypt(r.login.pass)
                                     : crypto::Result<std::string>(Unexpected(std::string("len")));
    if (u && p) {
      user = std::move(*u);
      pass = std::move(*p);
    } else {
      undecryptable = true;  // a failure like any other: the same time, counted
    }
  }
  const LoginOutcome outcome = (*check_)(user, pass, undecryptable);
  std::fill(pass.begin(), pass.end(), '\0');
  if (auto refused = refusal_for(outcome)) return std::move(*refused);
  handed_.emplace();
  handed_->clear_text = r.clear_text;
  return {};  // the session process answers MSG_OK
}

std::optional<Step> Connection::refusal_for(LoginOutcome outcome) {
  switch (outcome) {
    case LoginOutcome::accepted:
      return std::nullopt;
    case LoginOutcome::busy:
      return session_.login_refused(Message(rp::server_busy()));
    case LoginOutcome::refused:
    case LoginOutcome::not_served:
      break;
  }
  return session_.login_result(false);
}

// MSG_EXT_LOGIN: the client's share and nonce give the channel's keys; its credentials open
// under them, and are checked as MSG_LOG's are. Every answer from here is sealed.
Step Connection::ext_login(const ExtLoginRequest& r) {
  if (check_ == nullptr || !share_) return session_.login_result(false);
  auto l = ext::decode_ext_login(r.payload);
  if (!l || l->version != ext::kVersion) {
    spdlog::warn("{}: a malformed MSG_EXT_LOGIN: closed", who());
    return session_.login_result(false);
  }
  auto shared = share_->agree(l->share);
  share_.reset();  // ephemeral: forgotten once used
  if (!shared) {
    spdlog::warn("{}: MSG_EXT_LOGIN: {}: closed", who(), shared.error());
    return session_.login_result(false);
  }
  const auto th = crypto::bbftp_transcript_hash(crypt_payload_, ext::transcript_part(*l));
  auto keys = crypto::derive_bbftp_keys(*shared, l->nonce, server_nonce_, th);
  std::fill(shared->begin(), shared->end(), 0);
  if (!keys) {
    spdlog::error("{}: {}", who(), keys.error());
    return session_.login_result(false);
  }
  crypto::RecordSealer c2s(keys->c2s, keys->c2s_iv);
  crypto::RecordSealer s2c(keys->s2c, keys->s2c_iv);
  auto clear = c2s.open(l->sealed, th);
  std::optional<ext::Credentials> creds;
  if (clear) {
    creds = ext::decode_credentials(*clear);
    std::fill(clear->begin(), clear->end(), 0);
  }
  const std::uint32_t accepted_features =
      l->features & (ext::feature::kStreamProofs | ext::feature::kChecksums |
                     ext::feature::kSha256 | ext::feature::kResume);
  channel_.emplace(s2c, c2s, keys->data, accepted_features);
  const LoginOutcome outcome =
      creds ? (*check_)(creds->user, creds->password, false) : (*check_)("", "", true);
  if (creds) std::fill(creds->password.begin(), creds->password.end(), '\0');
  if (auto refused = refusal_for(outcome)) return std::move(*refused);  // sealed: channel_ stays
  handed_.emplace();
  handed_->channel = std::move(channel_);
  channel_.reset();
  return {};  // the session process answers MSG_EXT_LOGIN_OK
}

Step Connection::dir_command(const DirRequest& r) {
  storage::Sandbox& sb = *sandbox_;
  const int v = session_.version();
  switch (r.op) {
    case DirOp::chdir: {
      auto ok = sb.chdir(r.path);
      if (!ok) return session_.reply(rp::chdir_failed(r.path, ok.error().reason(), false, v));
      return session_.reply(rp::ok(sb.cwd()));
    }
    case DirOp::mkdir: {
      const bool recursive = (r.transferoption & tropt::kDir) != 0;
      auto ok = sb.mkdir(r.path, 0777, recursive);
      if (!ok) {
        return session_.reply(
            rp::mkdir_failed(r.path, ok.error().reason(), ok.error().retryable(), v));
      }
      return session_.reply(rp::mkdir_ok(r.path, v));
    }
    case DirOp::list:
      return list(r);
    case DirOp::rm: {
      auto ok = sb.unlink(r.path);
      if (!ok) return session_.reply(rp::rm_failed(r.path));
      spdlog::info("{}: rm {}", who(), printable(sb.display(r.path)));
      return session_.reply(rp::rm_ok(r.path));
    }
    case DirOp::stat: {
      auto st = sb.stat(r.path);
      if (!st) return session_.reply(rp::stat_failed(r.path));
      return session_.reply(rp::stat_ok(st->inode, st->mode, st->size, st->block_size, st->blocks,
                                        st->uid, st->gid, ctime_text(st->atime),
                                        ctime_text(st->mtime), ctime_text(st->ctime)));
    }
    case DirOp::df: {
      auto fs = sb.statfs(r.path);
      if (!fs) return session_.reply(rp::df_failed(r.path, fs.error().reason()));
      return session_.reply(rp::df_ok(fs->blocks, fs->free_blocks, fs->block_size, fs->files,
                                      fs->free_files, fs->name_max));
    }
  }
  return session_.reply(rp::unknown_message());  // not reached: every DirOp has its case
}

// "dir/pattern": the entries of dir whose names match pattern (fnmatch without flags, so '*'
// matches dot files too, "." and ".." included), each shown with the directory prefix.
Step Connection::list(const DirRequest& r) {
  const auto slash = r.path.rfind('/');
  const std::string prefix = slash == std::string::npos ? "" : r.path.substr(0, slash + 1);
  const std::string pattern = slash == std::string::npos ? r.path : r.path.substr(slash + 1);
  const std::string dir = prefix.empty() ? "." : prefix;
  auto entries = sandbox_->list(dir);
  if (!entries) {
    return session_.reply(rp::list_failed(entries.error().code != storage::Errc::permission));
  }
  ListReplyV2 reply;
  for (const auto& e : *entries) {
    if (::fnmatch(pattern.c_str(), e.name.c_str(), 0) != 0) continue;
    const bool link = e.type == storage::FileType::symlink;
    const char kind = e.dangling ? 'u' : (e.target == storage::FileType::directory ? 'd' : 'f');
    reply.entries.push_back({prefix + e.name, link ? 'l' : ' ', kind});
  }
  return session_.reply(std::move(reply));
}

DataEndpoint Connection::data_endpoint() {
  DataEndpoint e;
  e.local = local_;
  e.peer = remote_;
  e.only_from_peer = options_.data_peer_check;
  e.first_port = options_.data_port_first;
  e.last_port = options_.data_port_last;
  e.backlog = 4;  // room for a few strangers besides the client: they are accepted and closed
  e.send_buffer_bytes = e.recv_buffer_bytes = options_.socket_buffer_bytes;
  e.timeout = options_.data;
  e.on_stranger = [this](const io::SocketAddress& from) { stranger_on_data_port(from); };
  if (channel_ && (channel_->features() & ext::feature::kStreamProofs) != 0 && pending_ &&
      session_.version() >= 2) {
    e.proof = StreamProof{channel_->data_key(), pending_->number};
    e.backlog = 16;  // strangers queued before the client are vetted side by side
    e.on_unproven = [this](const io::SocketAddress& from, const std::string& why) {
      unproven_on_data_port(from, why);
    };
  }
  return e;
}

ferry::Result<std::vector<std::uint32_t>, std::string> Connection::open_listeners(int n) {
  auto l = DataListeners::open(data_endpoint(), n);
  if (!l) return Unexpected(l.error().message());
  pending_->listeners = std::move(*l);
  return pending_->listeners.ports();
}

Step Connection::prepare(const TransferRequest& r) {
  pending_.emplace();
  pending_->store = r.store;
  pending_->path = r.path;
  pending_->qbss = r.qbss;
  Step s = r.store ? prepare_store(r) : prepare_retrieve(r);
  if (session_.state() == ServerState::logged && pending_ && !pending_->writer) pending_.reset();
  return s;
}

Step Connection::accept_with_ports(const TransferParams& params, std::optional<Message> resume) {
  // Numbered as the client numbers it: only a TRANS_OK that goes out counts.
  pending_->number = transfers_;
  std::vector<std::uint32_t> ports;
  if (session_.features().passive) {
    auto opened = open_listeners(params.nbstream);
    if (!opened) {
      pending_.reset();
      return session_.reply(rp::bad("Cannot create data sockets: " + opened.error()));
    }
    ports = std::move(*opened);
  }
  ++transfers_;
  return session_.accept_transfer(params, std::move(ports), std::move(resume));
}

Step Connection::prepare_store(const TransferRequest& r) {
  storage::Sandbox& sb = *sandbox_;
  const auto& p = r.params;
  if (r.path.back() == '/') {
    return session_.reply(rp::bad_no_retry("Filename " + r.path + " ends with a /"));
  }
  // The directory must exist, or be creatable with TROPT_DIR.
  const auto split = storage::split_parent(r.path);
  if (!split.parent.empty()) {
    auto st = sb.stat(split.parent);
    if (!st) {
      if (st.error().code != storage::Errc::not_found) {
        return session_.reply(rp::bad_no_retry("Error stating directory " + split.parent + " : " +
                                               st.error().reason() + " "));
      }
      if ((p.transferoption & tropt::kDir) == 0) {
        return session_.reply(rp::dir_creation_needed(split.parent));
      }
      if (auto made = sb.mkdir(split.parent, 0777, true); !made) {
        return session_.reply(
            rp::create_dir_failed(split.parent, made.error().reason(), made.error().retryable()));
      }
    }
  }
  if (auto st = sb.stat(r.path); st && st->type == storage::FileType::directory) {
    return session_.reply(rp::is_a_directory(r.path));
  }
  storage::WriteOptions wo;
  wo.preallocate = p.filesize > 0 ? static_cast<std::uint64_t>(p.filesize) : 0;
  wo.resumable = resumable() && p.filesize > 0;
  if ((p.transferoption & tropt::kMode) != 0) {
    // Confined users share the service account: no setuid or setgid file of theirs may let
    // someone else run as it.
    wo.mode = p.filemode & (sb.confined() ? 01777 : 07777);
    wo.exact_mode = true;
  }
  // Creating the file, or starting its partial data over (which reserves its room again): a
  // full disk is said as one.
  auto cannot_create = [&](const storage::Error& e, bool retryable) {
    if (e.code == storage::Errc::no_space) return session_.reply(rp::transfer_no_space());
    return session_.reply(rp::create_file_failed(r.path, e.reason(), retryable));
  };
  auto w = sb.create(r.path, wo);
  if (!w) {
    const auto& e = w.error();
    if (e.code == storage::Errc::permission && sb.stat(r.path)) {
      return session_.reply(rp::not_writable(r.path));
    }
    return cannot_create(e, e.retryable());
  }
  if ((p.transferoption & tropt::kAcc) != 0) {
    const auto atime = decode_time(p.lastaccess), mtime = decode_time(p.lastmodif);
    if (atime >= 0 && mtime >= 0) (void)w->set_times(atime, mtime);
  }
  pending_->writer.emplace(std::move(*w));
  if (p.filesize == 0) {
    auto done = pending_->writer->commit();
    pending_.reset();
    if (!done) {
      return session_.reply(rp::create_file_failed(r.path, done.error().reason(), false));
    }
    spdlog::info("{}: put {} (0 bytes)", who(), printable(sb.display(r.path)));
    return session_.accept_transfer(p, {});
  }
  std::optional<Message> offer;
  if (wo.resumable) {
    storage::AtomicWriter& writer = *pending_->writer;
    const std::string name = printable(sb.display(r.path));
    if (r.resume) {
      auto o = offer_partial(writer, static_cast<std::uint64_t>(p.filesize));
      if (!o) {
        pending_.reset();
        return cannot_create(o.error(), true);
      }
      if (!o->offer.ranges.empty() || o->bad_blocks > 0) {
        spdlog::info(
            "{}: put {} resumes: {} bytes present and verified, {} to receive, {} blocks "
            "failed their check",
            who(), name, o->offer.bytes(),
            static_cast<std::uint64_t>(p.filesize) - o->offer.bytes(), o->bad_blocks);
      } else if (o->why != "no partial data") {
        spdlog::info("{}: put {}: partial data not used: {}", who(), name, o->why);
      }
      offer = Message(Raw{ext::kMsgExtResume, ext::encode(o->offer)});
      pending_->offer = std::move(*o);
    } else if (writer.resume_size() > 0) {
      if (auto d = writer.discard_partial(); !d) {
        pending_.reset();
        return cannot_create(d.error(), true);
      }
      spdlog::info("{}: put {}: partial data started over (no resume asked)", who(), name);
    }
  }
  return accept_with_ports(p, std::move(offer));
}

Step Connection::resume_answer(const ResumeAnswerRequest& r) {
  const auto answer = ext::decode_ext_resume(r.payload);
  if (!pending_ || !pending_->offer || !answer || !ext::answers(*answer, pending_->offer->offer)) {
    spdlog::warn("{}: a resume answer that does not answer our offer: closed", who());
    pending_.reset();
    Step s;
    s.close = true;
    return s;
  }
  pending_->answer = *answer;
  return {};
}

Step Connection::prepare_retrieve(const TransferRequest& r) {
  storage::Sandbox& sb = *sandbox_;
  auto st = sb.stat(r.path);
  if (!st) {
    const bool retry = st.error().code == storage::Errc::busy;
    return session_.reply(rp::stat_file_failed(r.path, st.error().reason(), retry));
  }
  if (st->type == storage::FileType::directory) return session_.reply(rp::is_a_directory(r.path));
  auto f = sb.open_read(r.path);
  if (!f) {
    return session_.reply(
        rp::bad_no_retry("Error opening local file " + r.path + " : " + f.error().reason() + " "));
  }
  TransferParams echo = r.params;
  echo.filesize = static_cast<std::int64_t>(st->size);
  echo.filemode = st->mode & 07777;
  echo.lastaccess = encode_time(st->atime);
  echo.lastmodif = encode_time(st->mtime);
  echo.nbstream = streams_for(echo.filesize, r.params.nbstream, r.params.buffersize,
                              options_.protocol.max_streams);
  pending_->reader.emplace(std::move(*f));
  pending_->version = file_version(*pending_->reader);
  if (echo.filesize == 0) {
    spdlog::info("{}: get {} (0 bytes)", who(), printable(sb.display(r.path)));
    pending_.reset();
    return session_.accept_transfer(echo, {});
  }
  std::optional<Message> answer;
  if (resumable() && r.resume) {  // the client's offer: what of it our file matches
    const auto size = static_cast<std::uint64_t>(echo.filesize);
    ext::ExtResume a{size, {}};
    if (auto offer = ext::decode_ext_resume(*r.resume)) {
      auto checked =
          answer_offer(*pending_->reader, size, *offer, checksum_kind().block, pending_->sums);
      if (checked) a = std::move(*checked);
      spdlog::info("{}: get {} resumes: the client has {} bytes ({} offered), {} to send", who(),
                   printable(sb.display(r.path)), a.bytes(), offer->bytes(), size - a.bytes());
    } else {
      spdlog::warn("{}: get {}: a malformed resume offer, ignored", who(),
                   printable(sb.display(r.path)));
    }
    answer = Message(Raw{ext::kMsgExtResume, ext::encode(a)});
    pending_->answer = std::move(a);
  }
  if (checksums()) {  // the plan start() will make, hashed while the client preallocates
    TransferPlan plan = plan_transfer(static_cast<std::uint64_t>(echo.filesize), echo.nbstream,
                                      echo.buffersize, echo.transferoption);
    plan_blocks(plan, ext::integrity_block(plan.size),
                present_segments(pending_->answer.value_or(ext::ExtResume{plan.size, {}})));
    if (!plan.compressed) {
      pending_->ahead = std::make_unique<SumsAhead>(
          *pending_->reader, checksum_kind().block, plan.integrity_block, plan.size,
          sending_order(plan), SumsAhead::default_window());
    }
  }
  return accept_with_ports(echo, std::move(answer));
}

Step Connection::start(const StartRequest& r) {
  if (!pending_) return session_.transfer_finished(rp::transfer_failed("no transfer pending"));
  PendingTransfer& t = *pending_;
  t.started = std::chrono::steady_clock::now();

  // Open the data connections: accept on our listeners (3) or connect to the client (2).
  TransferPlan plan =
      plan_transfer(static_cast<std::uint64_t>(std::max<std::int64_t>(r.params.filesize, 0)),
                    r.params.nbstream, r.params.buffersize, r.params.transferoption);
  plan.qbss = t.qbss;
  if (checksums()) plan_checked(t, plan);
  const DataEndpoint at = data_endpoint();
  auto socks = session_.features().passive ? t.listeners.accept_all(at, plan)
                                           : connect_all(at, r.client_ports, plan);
  t.listeners.close();
  if (!socks) {
    const std::string failure = "Cannot open data connection " +
                                std::to_string(socks.error().stream) + " : " +
                                socks.error().error.message();
    spdlog::warn("{}: {}", who(), printable(failure, 400));
    if (checksums() && !r.simulate) {
      // The client may have connected all the same (into our listeners' queues) and sends its
      // sum after its streams: a store waits for it, a retrieve sends ours first, as always.
      t.failed = StreamError{EIO, failure};
      if (t.store) {
        t.writer.reset();
        session_.await_sum();
        return {};
      }
      ext::ExtSum sum;
      sum.digest = checksum_kind().code;
      sum.flags = ext::ExtSum::kStreamsFailed;
      sum.sum.assign(sum.digest == 2 ? 32 : 16, 0);
      pending_.reset();
      Step s = session_.transfer_finished(rp::bad(failure));
      s.replies.insert(s.replies.begin(), Message(Raw{ext::kMsgExtSum, ext::encode(sum)}));
      return s;
    }
    pending_.reset();
    return session_.transfer_finished(rp::bad(failure));
  }
  if (r.simulate) {
    pending_.reset();
    return session_.transfer_finished(rp::transfer_ok());
  }
  return move_data(std::move(*socks), plan);
}

void Connection::plan_checked(PendingTransfer& t, TransferPlan& plan) {
  const ext::ExtResume answer = t.answer.value_or(ext::ExtResume{plan.size, {}});
  plan_blocks(plan, ext::integrity_block(plan.size), present_segments(answer));
  if (!t.store || !resumable() || !t.writer) return;
  static const std::map<std::uint64_t, std::uint64_t> kNone;
  const auto& verified = t.offer ? t.offer->blocks : kNone;
  const std::string name = printable(sandbox_->display(t.path));
  if (auto s = answered_sums(t.writer->file(), answer, verified, checksum_kind().block, t.sums);
      !s) {
    // The answered blocks cannot be read back: the sums will not match, the put fails.
    spdlog::warn("{}: put {}: its partial data cannot be read: {}", who(), name,
                 s.error().message());
  }
  auto journal = start_record(*t.writer, answer, verified);
  if (!journal) {  // the transfer goes on; only its resume is lost
    spdlog::warn("{}: put {}: no record for resume: {}", who(), name, journal.error().message());
    return;
  }
  t.journal = std::move(*journal);
}

Step Connection::move_checked(std::vector<UniqueFd> socks, const TransferPlan& plan) {
  PendingTransfer& t = *pending_;
  TransferSums sums{
      checksum_kind().block, std::move(t.sums), 0, plan.size - plan.planned_bytes(), {}};
  if (!t.store) sums.ahead = t.ahead.get();
  if (t.store) {
    const auto digest = checksum_kind().block;
    sums.arrived = [&t, digest](std::uint64_t index, Bytes data,
                                const std::vector<std::uint8_t>& sum) {
      t.received->fetch_add(data.size(), std::memory_order_relaxed);
      if (t.journal) (void)t.journal.append(index, record_entry(digest, data, sum));
    };
  }
  const storage::File& file = t.store ? t.writer->file() : *t.reader;
  t.failed = move_streams(socks, file, plan, t.store ? DataDirection::receive : DataDirection::send,
                          {options_.data, options_.ack}, {}, &sums);
  t.resent = sums.resent;
  t.plan = plan;
  const auto whole_digest = checksum_kind().whole;
  if (!t.failed) t.whole = whole_file_sum(whole_digest, plan.size, plan.integrity_block, sums.sums);
  if (t.store) {     // the client's sum decides
    if (t.failed) {  // said and dropped now; the reply waits for the client's word, briefly
      spdlog::warn("{}: put {} failed: {} ({} bytes received{})", who(),
                   printable(sandbox_->display(t.path)), printable(t.failed->message, 400),
                   t.received->load(), t.journal ? ", kept for resume" : "");
      // Dropped now, or (resumable) kept until the client's sum says whether it is of use.
      if (!t.writer->resumable()) t.writer.reset();
    }
    session_.await_sum();
    return {};
  }
  // A retrieve: our sum, then the final reply. A file that changed under us is refused here.
  ext::ExtSum sum;
  sum.digest = checksum_kind().code;
  const auto now = file_version(*t.reader);
  const bool changed = !t.version || !now || *now != *t.version;
  const bool reread_differs = t.failed && t.failed->sys_errno == ESTALE;
  if (changed || reread_differs) {
    sum.flags |= ext::ExtSum::kChanged;
  } else if (t.failed) {
    sum.flags |= ext::ExtSum::kStreamsFailed;
  }
  sum.sum = t.whole.empty() ? std::vector<std::uint8_t>(sum.digest == 2 ? 32 : 16) : t.whole;
  const std::string name = printable(sandbox_->display(t.path));
  Message final_reply = rp::transfer_ok();
  if (t.failed && !reread_differs) {
    spdlog::warn("{}: get {} failed: {}", who(), name, printable(t.failed->message, 400));
    final_reply = rp::transfer_failed(t.failed->message);
  } else if (changed || reread_differs) {
    spdlog::warn("{}: get {} failed: it changed while being sent", who(), name);
    final_reply = rp::bad_no_retry(t.path + " changed while being sent: nothing was put in place");
  } else {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t.started).count();
    spdlog::info("{}: get {} ({} bytes, {} streams{}) in {:.3f} s, {} {}, {} blocks sent again{}",
                 who(), name, plan.size, socks.size(), plan.compressed ? ", gzip" : "", secs,
                 storage::to_string(whole_digest), storage::to_hex(t.whole), t.resent,
                 t.answer
                     ? ", resumed: " + std::to_string(t.answer->bytes()) + " bytes were there, " +
                           std::to_string(plan.planned_bytes()) + " sent"
                     : std::string());
  }
  pending_.reset();
  Step s = session_.transfer_finished(std::move(final_reply));
  s.replies.insert(s.replies.begin(), Message(Raw{ext::kMsgExtSum, ext::encode(sum)}));
  return s;
}

Step Connection::finish_store(const SumRequest& r) {
  if (!pending_) return session_.transfer_finished(rp::transfer_failed("no transfer pending"));
  PendingTransfer& t = *pending_;
  const std::string name = printable(sandbox_->display(t.path));
  const auto sum = ext::decode_ext_sum(r.payload);
  const auto whole_digest = checksum_kind().whole;
  auto refuse = [&](const std::string& why, Message reply, bool keep_partial = false) {
    spdlog::warn("{}: put {} failed: {}", who(), name, printable(why, 400));
    // Nothing under the name; no partial data either when what arrived does not make the file.
    if (t.writer && !keep_partial) t.writer->abort(storage::Partial::drop);
    pending_.reset();
    return session_.transfer_finished(std::move(reply));
  };
  if (t.failed) {  // logged when the streams ended
    // The client's file changed under it: what arrived is of no use to a resume either; a full
    // disk wants its space back.
    const bool no_space = t.failed->no_space();
    if (t.writer && (no_space || (sum && (sum->flags & ext::ExtSum::kChanged) != 0))) {
      t.writer->abort(storage::Partial::drop);
    }
    Message reply = no_space ? Message(rp::transfer_no_space())
                             : Message(rp::transfer_failed(t.failed->message));
    pending_.reset();
    return session_.transfer_finished(std::move(reply));
  }
  if (!sum || sum->digest != checksum_kind().code) {
    return refuse("a malformed MSG_EXT_SUM", rp::transfer_failed("malformed checksum message"));
  }
  if ((sum->flags & ext::ExtSum::kChanged) != 0) {
    return refuse("it changed while being sent",
                  rp::bad_no_retry(t.path + " changed while being sent: nothing was put in place"));
  }
  if ((sum->flags & ext::ExtSum::kStreamsFailed) != 0) {
    return refuse("the client's streams failed", rp::transfer_failed("the client's streams failed"),
                  true);
  }
  if (sum->sum != t.whole) {
    return refuse("checksum mismatch (" + std::string(storage::to_string(whole_digest)) + " ours " +
                      storage::to_hex(t.whole) + ", the client's " + storage::to_hex(sum->sum) +
                      ")",
                  rp::transfer_failed("checksum mismatch: nothing was put in place"));
  }
  if (auto c = t.writer->commit(); !c) {
    const bool no_space = c.error().code == storage::Errc::no_space;
    return refuse(c.error().reason(), no_space ? Message(rp::transfer_no_space())
                                               : Message(rp::transfer_failed(c.error().reason())));
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t.started).count();
  spdlog::info("{}: put {} ({} bytes, {} streams{}) in {:.3f} s, {} {}, {} blocks sent again{}",
               who(), name, t.plan.size, t.plan.segments.size(), t.plan.compressed ? ", gzip" : "",
               secs, storage::to_string(whole_digest), storage::to_hex(t.whole), t.resent,
               t.offer
                   ? ", resumed: " + std::to_string(t.answer ? t.answer->bytes() : 0) +
                         " bytes were there, " + std::to_string(t.received->load()) + " received"
                   : std::string());
  pending_.reset();
  return session_.transfer_finished(rp::transfer_ok());
}

Step Connection::stored_checksum(const ChecksumRequest& r) {
  // Only inside the extension's channel: to anyone else this is an unknown message.
  if (!channel_) return session_.reply(rp::unknown_message());
  auto f = sandbox_->open_read(r.path);
  if (!f) {
    return session_.reply(
        rp::bad_no_retry("Error opening local file " + r.path + " : " + f.error().reason() + " "));
  }
  const auto kind = checksum_kind();
  storage::Hasher hasher(kind.block);
  std::vector<std::vector<std::uint8_t>> sums;
  // The file as it is now: what is appended meanwhile is not read (nor waited for).
  const auto version = file_version(*f);
  const std::uint64_t limit = version ? version->size : 0;
  const std::uint64_t block = ext::integrity_block(limit);
  BulkBuffer buf(static_cast<std::size_t>(std::min(block, std::max<std::uint64_t>(limit, 1))));
  std::uint64_t size = 0;
  while (size < limit) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), limit - size));
    std::size_t got = 0;
    while (got < want) {  // a whole block, unless the file ends
      auto n = f->pread_some({buf.data() + got, want - got}, size + got);
      if (!n) {
        return session_.reply(
            rp::bad_no_retry("Error reading " + r.path + " : " + n.error().reason() + " "));
      }
      if (*n == 0) break;
      got += *n;
    }
    if (got == 0) break;
    hasher.update(Bytes(buf.data(), got));
    sums.push_back(hasher.finish());
    size += got;
    if (got < want) break;
  }
  const auto digest = kind.whole;
  const auto whole = whole_file_sum(digest, size, block, sums);
  spdlog::info("{}: checksum {} ({} bytes): {} {}", who(), printable(sandbox_->display(r.path)),
               size, storage::to_string(digest), storage::to_hex(whole));
  return session_.reply(
      rp::ok(std::string(storage::to_string(digest)) + " " + storage::to_hex(whole)));
}

Step Connection::move_data(std::vector<UniqueFd> socks, const TransferPlan& plan) {
  if (checksums()) return move_checked(std::move(socks), plan);
  PendingTransfer& t = *pending_;
  const int n = static_cast<int>(socks.size());
  const auto size = plan.size;
  const bool compressed = plan.compressed;
  const storage::File& file = t.store ? t.writer->file() : *t.reader;
  const auto failed =
      move_streams(socks, file, plan, t.store ? DataDirection::receive : DataDirection::send,
                   {options_.data, options_.ack});
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t.started).count();
  if (failed) {
    const auto& e = *failed;
    spdlog::warn("{}: {} {} failed: {}", who(), t.store ? "put" : "get",
                 printable(sandbox_->display(t.path)), printable(e.message, 400));
    const bool no_space = e.no_space();
    pending_.reset();
    return session_.transfer_finished(no_space ? Message(rp::transfer_no_space())
                                               : Message(rp::transfer_failed(e.message)));
  }
  if (t.store) {
    if (auto c = t.writer->commit(); !c) {
      const bool no_space = c.error().code == storage::Errc::no_space;
      pending_.reset();
      return session_.transfer_finished(no_space
                                            ? Message(rp::transfer_no_space())
                                            : Message(rp::transfer_failed(c.error().reason())));
    }
  }
  spdlog::info("{}: {} {} ({} bytes, {} streams{}) in {:.3f} s", who(), t.store ? "put" : "get",
               printable(sandbox_->display(t.path)), size, n, compressed ? ", gzip" : "", secs);
  pending_.reset();
  return session_.transfer_finished(rp::transfer_ok());
}

// Protocol 1: one stream per port the client listens on, blocks of READBUFLEN, no options.
TransferPlan v1_plan(std::int64_t size, const V1TransferRequest& r) {
  return plan_transfer(static_cast<std::uint64_t>(std::max<std::int64_t>(size, 0)),
                       static_cast<int>(r.ports.size()), 0, r.compressed ? tropt::kGzip : 0,
                       kV1BlockBytes);
}

// Protocol 1: the daemon connects to the client's ports.
ferry::Result<std::vector<UniqueFd>, std::string> connect_v1(
    const DataEndpoint& at, const std::vector<std::uint32_t>& ports, const TransferPlan& plan) {
  auto socks = connect_all(at, ports, plan);
  if (!socks) {
    return Unexpected("Cannot connect receive socket " + std::to_string(socks.error().stream) +
                      " : " + std::string(std::strerror(socks.error().error.sys_errno)));
  }
  return std::move(*socks);
}

// Protocol 1 MKDIR (not recursive), CHDIR and LIST (glob: sorted, dot files only when the
// pattern asks, the pattern's directory kept in front of every name).
Step Connection::v1_dir(const V1DirRequest& r) {
  storage::Sandbox& sb = *sandbox_;
  switch (r.op) {
    case V1DirOp::chdir: {
      auto ok = sb.chdir(r.path);
      if (!ok) return session_.reply(rp::chdir_failed(r.path, ok.error().reason(), false, 1));
      return session_.reply(rp::ok(sb.cwd()));
    }
    case V1DirOp::mkdir: {
      auto ok = sb.mkdir(r.path, 0750, false);
      if (!ok) {
        return session_.reply(
            rp::mkdir_failed(r.path, ok.error().reason(), ok.error().retryable(), 1));
      }
      return session_.reply(rp::mkdir_ok(r.path, 1));
    }
    case V1DirOp::list:
      break;  // below
  }
  const auto slash = r.path.rfind('/');
  const std::string prefix = slash == std::string::npos ? "" : r.path.substr(0, slash + 1);
  const std::string pattern = slash == std::string::npos ? r.path : r.path.substr(slash + 1);
  ListReplyV1 reply;
  if (auto entries = sb.list(prefix.empty() ? "." : prefix)) {
    for (const auto& e : *entries) {
      if (::fnmatch(pattern.c_str(), e.name.c_str(), FNM_PERIOD) == 0) {
        reply.paths.push_back(prefix + e.name);
      }
    }
    std::sort(reply.paths.begin(), reply.paths.end());
  }
  return session_.reply(std::move(reply));  // no match (or no directory): an empty list
}

Step Connection::v1_retrieve_start(const V1RetrieveStart& r) {
  if (!pending_ || !pending_->reader) {
    return session_.transfer_finished(rp::transfer_failed("no transfer pending"));
  }
  pending_->started = std::chrono::steady_clock::now();
  const TransferPlan plan = v1_plan(r.filesize, r.transfer);
  auto socks = connect_v1(data_endpoint(), r.transfer.ports, plan);
  if (!socks) {
    pending_.reset();
    return session_.transfer_finished(rp::bad(socks.error()));
  }
  return move_data(std::move(*socks), plan);
}

Step Connection::v1_transfer(const V1TransferRequest& r) {
  storage::Sandbox& sb = *sandbox_;
  pending_.emplace();
  pending_->store = r.store;
  pending_->path = r.path;
  pending_->started = std::chrono::steady_clock::now();
  auto st = sb.stat(r.path);
  if (st && st->type == storage::FileType::directory) {
    pending_.reset();
    return session_.reply(rp::is_a_directory(r.path));
  }
  if (!r.store) {
    if (!st) {
      pending_.reset();
      const bool retry = st.error().code == storage::Errc::busy;
      return session_.reply(rp::stat_file_failed(r.path, st.error().reason(), retry));
    }
    auto f = sb.open_read(r.path);
    if (!f) {
      pending_.reset();
      return session_.reply(rp::bad_no_retry("Error opening local file " + r.path + " : " +
                                             f.error().reason() + " "));
    }
    pending_->reader.emplace(std::move(*f));
    return session_.accept_v1_retrieve(static_cast<std::int64_t>(st->size));
  }
  if (!st && st.error().code != storage::Errc::not_found) {
    pending_.reset();
    return session_.reply(rp::stat_file_failed(r.path, st.error().reason(), false));
  }
  storage::WriteOptions wo;
  wo.mode = 0660;
  wo.preallocate = static_cast<std::uint64_t>(r.filesize);
  auto w = sb.create(r.path, wo);
  if (!w) {
    pending_.reset();
    return session_.reply(
        rp::create_file_failed(r.path, w.error().reason(), w.error().retryable()));
  }
  pending_->writer.emplace(std::move(*w));
  if (r.filesize == 0) {
    auto done = pending_->writer->commit();
    pending_.reset();
    if (!done) return session_.reply(rp::create_file_failed(r.path, done.error().reason(), false));
    return session_.reply(rp::transfer_ok());
  }
  session_.begin_v1_store();  // no message precedes the data
  const TransferPlan plan = v1_plan(r.filesize, r);
  auto socks = connect_v1(data_endpoint(), r.ports, plan);
  if (!socks) {
    pending_.reset();
    return session_.transfer_finished(rp::bad(socks.error()));
  }
  return move_data(std::move(*socks), plan);
}

}  // namespace

BbftpRefusalBytes bbftp_refusal_bytes() {
  BbftpRefusalBytes out;
  // A real key, made once: a client can encrypt its login to it as usual; nobody decrypts it.
  auto key = crypto::RsaPrivateKey::generate();
  if (key) {
    CryptKey announce{{kCryptRsaOaep, 0, 0}, key->modulus_mpi(), key->exponent_mpi(), {}};
    announce.sec.pubkeylen = static_cast<std::int32_t>(announce.modulus_mpi.size());
    announce.sec.expolen = static_cast<std::int32_t>(announce.exponent_mpi.size());
    encode_to(announce, out.greeting);
  }
  out.login_bytes = kHeaderSize + kLoginSize;
  encode_to(rp::server_busy(), out.busy);
  encode_to(rp::source_banned(), out.banned);
  return out;
}

std::string ctime_text(std::int64_t t) {
  const time_t tt = static_cast<time_t>(t);
  char buf[64];
  if (::ctime_r(&tt, buf) == nullptr) return "?";
  std::string s(buf);
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

std::optional<HandedOver> serve_bbftp_prelogin(int control, const BbftpServerOptions& options,
                                               const AskLogin& check,
                                               const std::function<bool()>& confine,
                                               const SignAnnouncement& sign) {
  UniqueFd mine(::dup(control));
  if (!mine) return std::nullopt;
  return Connection(std::move(mine), options).run_prelogin(check, confine, sign);
}

ferry::Result<SshPeer, std::string> bbftp_ssh_check(int out, const BbftpServerOptions& options,
                                                    io::Timeout timeout, const std::string& host) {
  auto fail = [&](std::string why) -> ferry::Result<SshPeer, std::string> {
    std::vector<std::byte> bytes;
    encode_to(Text{MsgCode::bad, why}, bytes);
    (void)io::write_all(out, bytes, options.control);
    return Unexpected(std::move(why));
  };
  // Any address, both families where the system has IPv6: the client connects to whichever
  // address of ours it resolved. The data channel's listener, so the port range applies.
  DataEndpoint at;
  at.only_from_peer = false;  // the check connection is what tells us the client's address
  at.first_port = options.data_port_first;
  at.last_port = options.data_port_last;
  at.timeout = timeout;
  std::optional<DataListeners> listener;
  const std::vector<std::string> hosts =
      host.empty() ? std::vector<std::string>{"::", "0.0.0.0"} : std::vector<std::string>{host};
  for (const auto& any : hosts) {
    auto where = io::resolve(any, 0, true);
    if (!where || where->empty()) continue;
    at.local = where->front();
    if (auto l = DataListeners::open(at, 1)) {
      listener = std::move(*l);
      break;
    }
  }
  if (!listener) return fail("Cannot bind checkreceive socket");
  std::vector<std::byte> hello;
  encode_to(IntCommand{MsgCode::logged_stdin, static_cast<std::int32_t>(listener->ports().front())},
            hello);
  if (auto w = io::write_all(out, hello, options.control); !w) {
    return Unexpected("Error writing checkreceive socket port: " + w.error().message());
  }
  auto accepted = listener->accept_all(at, TransferPlan{});
  if (!accepted || accepted->empty()) return fail("Time Out select checkreceive socket");
  UniqueFd conn = std::move(accepted->front());
  io::SocketAddress client;
  if (auto a = io::SocketAddress::of_peer(conn.get())) client = *a;
  std::byte head[kHeaderSize];
  if (auto r = io::read_exact(conn.get(), head, options.control); !r) {
    return fail("Error reading checkreceive socket");
  }
  if (decode_header(head).code != static_cast<std::uint32_t>(MsgCode::ipaddr)) {
    return fail("Receive unkown message on checkreceive socket");
  }
  std::vector<std::byte> ok;
  encode_to(Empty{MsgCode::ipaddr_ok}, ok);
  if (auto w = io::write_all(conn.get(), ok, options.control); !w) {
    return fail("Error writing checkreceive socket OK message");
  }
  SshPeer peer;
  peer.client = client.unmapped();
  if (auto a = io::SocketAddress::of_local(conn.get())) peer.local = a->unmapped();
  return peer;
}

void Connection::run_ssh_session(int out, storage::Sandbox sandbox, std::string_view user,
                                 const SshPeer& peer) {
  out_ = out;
  local_ = peer.local;
  remote_ = peer.client;
  peer_ = remote_.to_string();
  user_ = printable(user, 64);
  sandbox_ = std::move(sandbox);
  spdlog::info("bbftpd started by {} from {} (ssh mode), cwd {}", user_, remote_.host(),
               printable(sandbox_->cwd()));
  session_.started_by_ssh();
  serve({});
}

void serve_bbftp_ssh_session(int in, int out, const BbftpServerOptions& options,
                             storage::Sandbox sandbox, std::string_view user, const SshPeer& peer) {
  UniqueFd control(::fcntl(in, F_DUPFD_CLOEXEC, 0));
  if (!control) {
    spdlog::error("ssh mode: standard input: {}", std::strerror(errno));
    return;
  }
  Connection(std::move(control), options).run_ssh_session(out, std::move(sandbox), user, peer);
}

void serve_bbftp_session(UniqueFd control, const BbftpServerOptions& options,
                         storage::Sandbox sandbox, std::string_view user, HandedOver state) {
  Connection(std::move(control), options).run_session(std::move(sandbox), user, std::move(state));
}

}  // namespace ferry::session
