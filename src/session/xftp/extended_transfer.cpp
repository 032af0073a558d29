#include "session/xftp/extended_transfer.hpp"

#include <poll.h>

#include <algorithm>
#include <vector>

#include "io/udp.hpp"
#include "storage/checksum.hpp"
#include "storage/partial.hpp"

namespace ferry::session {
namespace {

using namespace xftp;
using Clock = std::chrono::steady_clock;

constexpr int kBatch = 64;  // datagrams read per wake-up before the core's outputs go out
constexpr auto kStopCheck = std::chrono::milliseconds(100);
// Bytes hashed per wake-up of a receiver: a few milliseconds, so the ACKs keep flowing.
constexpr std::uint64_t kHashPerWakeup = 2 << 20;

Time now() {
  return std::chrono::duration_cast<Time>(Clock::now().time_since_epoch());
}

crypto::ByteView view(Bytes b) {
  return {reinterpret_cast<const std::uint8_t*>(b.data()), b.size()};
}

// Waits until `fd` is readable or `until` (bounded by kStopCheck); true when readable.
bool wait_readable(int fd, std::optional<Time> until) {
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(kStopCheck);
  if (until) {
    const Time left = *until - now();
    wait = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(left),
                      std::chrono::milliseconds(0), wait);
  }
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
}

TransferError error(TransferError::Kind k, std::string m) {
  return {k, std::move(m)};
}

// Reads what is there (up to kBatch datagrams) and hands each of the peer's to `take`.
template <class Take>
std::optional<TransferError> read_batch(int fd, const io::SocketAddress& peer,
                                        const ExtendedFraming& f, DropCounts& drops,
                                        std::vector<std::byte>& buf, Take&& take) {
  for (int i = 0; i < kBatch; ++i) {
    io::SocketAddress from;
    auto n = io::try_receive_datagram(fd, buf, from);
    if (!n) {
      const int e = n.error().sys_errno;
      if (e == EAGAIN || e == EWOULDBLOCK) return std::nullopt;
      if (e == ECONNREFUSED)
        return error(TransferError::Kind::network, "the peer's port is closed");
      return error(TransferError::Kind::network, n.error().message());
    }
    if (!io::same_endpoint(from, peer)) {
      ++drops.stranger;
      continue;
    }
    if (auto d = unframe(f, {buf.data(), *n}, drops)) take(*d);
  }
  return std::nullopt;
}

}  // namespace

std::string DropCounts::summary() const {
  std::string out;
  auto add = [&](std::uint64_t n, const char* what) {
    if (n == 0) return;
    if (!out.empty()) out += ", ";
    out += std::to_string(n) + " " + what;
  };
  add(stranger.load(), "from another address");
  add(malformed.load(), "malformed");
  add(unauthentic.load(), "failing their tag");
  add(elsewhere.load(), "for another connection");
  return out;
}

void DropCounts::add_to(DropCounts& other) const noexcept {
  other.stranger += stranger.load();
  other.malformed += malformed.load();
  other.unauthentic += unauthentic.load();
  other.elsewhere += elsewhere.load();
}

Result<ext::Checksum, TransferError> whole_file_checksum(const storage::File& file) {
  auto hex = storage::checksum_file(file);
  if (!hex) return Unexpected(error(TransferError::Kind::local_file, hex.error().message()));
  ext::Checksum c{};
  for (std::size_t i = 0; i < c.size() && 2 * i + 1 < hex->size(); ++i) {
    c[i] = static_cast<std::uint8_t>(std::stoi(hex->substr(2 * i, 2), nullptr, 16));
  }
  return c;
}

std::vector<std::uint8_t> frame(const ExtendedFraming& f, ext::Type type, const ext::Body& body) {
  const ext::Header h{type, f.peer_connection, f.packets->fetch_add(1)};
  auto out = ext::encode_header(h);
  const auto clear = ext::encode_body(body);
  if (f.seal == nullptr) {
    out.insert(out.end(), clear.begin(), clear.end());
    return out;
  }
  const auto sealed = f.seal->seal(out, clear, h.packet);
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

std::optional<ext::Datagram> unframe(const ExtendedFraming& f, Bytes datagram, DropCounts& drops) {
  auto h = ext::decode_header(datagram);
  if (!h) {
    ++drops.malformed;
    return std::nullopt;
  }
  if (h->connection != f.our_connection) {
    ++drops.elsewhere;
    return std::nullopt;
  }
  const auto all = view(datagram);
  std::optional<std::vector<std::uint8_t>> opened;
  if (f.open != nullptr) {
    opened = f.open->open(all.first(ext::kHeaderSize), all.subspan(ext::kHeaderSize), h->packet);
    if (!opened) {
      ++drops.unauthentic;
      return std::nullopt;
    }
  }
  // The header is decoded already: only the body (the clear one, or the one just opened).
  auto body = opened ? ext::decode_body(h->type, as_bytes(*opened))
                     : ext::decode_body(h->type, datagram.subspan(ext::kHeaderSize));
  if (!body) {
    ++drops.malformed;
    return std::nullopt;
  }
  return ext::Datagram{*h, std::move(*body)};
}

Result<ext::EndStatus, TransferError> send_extended(int fd, const io::SocketAddress& peer,
                                                    const storage::File& file, TransferSender& core,
                                                    const ExtendedFraming& framing,
                                                    const ExtendedTransferOptions& options) {
  DropCounts own;
  DropCounts& drops = options.drops != nullptr ? *options.drops : own;
  std::vector<std::byte> buf(65536);
  // One DATA body, reused: the file's bytes are read into it and framed from it, never copied.
  ext::Body body{ext::Data{core.transfer(), 0, 0, {}}};
  auto& data = std::get<ext::Data>(body);
  std::uint64_t reported = 0;
  for (;;) {
    if (options.stop != nullptr && options.stop->load()) {
      return Unexpected(error(TransferError::Kind::stopped, "stopped"));
    }
    while (auto out = core.next(now())) {
      std::vector<std::uint8_t> bytes;
      if (const auto* s = std::get_if<SendData>(&*out)) {
        data.seq = s->seq;
        data.offset = s->offset;
        data.payload.resize(s->length);
        auto r = file.pread_exact(
            {reinterpret_cast<std::byte*>(data.payload.data()), data.payload.size()}, s->offset);
        if (!r) {  // the receiver is told, not left waiting
          const auto abort =
              frame(framing, ext::Type::abort, ext::Abort{core.transfer(), r.error().message()});
          (void)io::send_to(fd, as_bytes(abort), peer);
          return Unexpected(error(TransferError::Kind::local_file, r.error().message()));
        }
        bytes = frame(framing, ext::Type::data, body);
      } else {
        bytes = frame(framing, ext::Type::end, std::get<ext::End>(*out));
      }
      if (auto w = io::send_to(fd, as_bytes(bytes), peer); !w) {
        return Unexpected(error(TransferError::Kind::network, w.error().message()));
      }
    }
    if (core.done()) break;
    if (wait_readable(fd, core.deadline())) {
      auto failed = read_batch(fd, peer, framing, drops, buf, [&](const ext::Datagram& d) {
        if (const auto* a = std::get_if<ext::Ack>(&d.body)) core.on_ack(*a, now());
        if (const auto* e = std::get_if<ext::EndOk>(&d.body)) core.on_end_ok(*e, now());
        if (const auto* x = std::get_if<ext::Abort>(&d.body); x && x->transfer == core.transfer()) {
          core.abort();
        }
      });
      if (failed) return Unexpected(*failed);
    }
    if (auto t = core.deadline(); t && *t <= now()) core.on_timeout(now());
    if (options.progress && core.acked_bytes() != reported) {
      reported = core.acked_bytes();
      options.progress(reported);
    }
  }
  if (core.timed_out()) {
    return Unexpected(error(TransferError::Kind::silent_peer, "nothing from the peer"));
  }
  return *core.outcome();
}

namespace {

Result<ext::EndStatus, TransferError> receive_loop(
    int fd, const io::SocketAddress& peer, const storage::File& file, TransferReceiver& core,
    const ExtendedFraming& framing, storage::InOrderHasher& hasher,
    const std::function<bool()>& commit, const ExtendedTransferOptions& options) {
  DropCounts own;
  DropCounts& drops = options.drops != nullptr ? *options.drops : own;
  std::vector<std::byte> buf(65536);
  std::optional<TransferError> local;   // a write that failed: the sender is told, then we stop
  std::optional<ext::Checksum> verify;  // END came with everything there: check once hashed
  Time last_heard = now();
  core.begin(last_heard);
  std::uint64_t reported = 0;
  Time checkpointed = last_heard;
  std::uint64_t checkpointed_at = 0;  // hashed bytes the last checkpoint had
  // The whole file's checksum must match before the file takes its name; hashing what has
  // become contiguous as it goes makes that check cost the tail only, not a second read.
  auto hash_what_is_there = [&](std::uint64_t budget) -> std::optional<TransferError> {
    if (auto h = hasher.advance(file, core.present().end_of_run(0), budget); !h) {
      return error(TransferError::Kind::local_file, h.error().message());
    }
    return std::nullopt;
  };
  for (;;) {
    if (options.stop != nullptr && options.stop->load()) {
      return Unexpected(error(TransferError::Kind::stopped, "stopped"));
    }
    while (auto out = core.next(now())) {
      std::vector<std::uint8_t> bytes;
      if (const auto* a = std::get_if<ext::Ack>(&*out)) {
        bytes = frame(framing, ext::Type::ack, *a);
      } else {
        bytes = frame(framing, ext::Type::end_ok, std::get<ext::EndOk>(*out));
      }
      (void)io::send_to(fd, as_bytes(bytes), peer);  // lost like any datagram: the peer repeats
    }
    if (local) {
      const auto abort =
          frame(framing, ext::Type::abort, ext::Abort{core.transfer(), local->message});
      (void)io::send_to(fd, as_bytes(abort), peer);
      return Unexpected(*local);
    }
    if (core.outcome() && now() - last_heard > options.linger) break;
    if (core.timed_out()) {
      return Unexpected(error(TransferError::Kind::silent_peer, "nothing from the peer"));
    }
    std::optional<Time> until = core.deadline();
    if (core.outcome()) until = last_heard + options.linger;
    // Bytes to hash: look at the socket and go on hashing, without sleeping.
    if (!core.outcome() && hasher.hashed() < core.present().end_of_run(0)) until = now();
    if (wait_readable(fd, until)) {
      auto failed = read_batch(fd, peer, framing, drops, buf, [&](const ext::Datagram& d) {
        last_heard = now();
        if (const auto* x = std::get_if<ext::Data>(&d.body)) {
          if (auto w = core.on_data(*x, now())) {
            for (const auto& part : w->parts) {
              auto r = file.pwrite_all(
                  {reinterpret_cast<const std::byte*>(x->payload.data()) + (part.first - x->offset),
                   part.size()},
                  part.first);
              if (!r && !local) local = error(TransferError::Kind::local_file, r.error().message());
            }
          }
        } else if (const auto* e = std::get_if<ext::End>(&d.body)) {
          if (auto v = core.on_end(*e, now())) verify = v->checksum;
        } else if (const auto* a = std::get_if<ext::Abort>(&d.body);
                   a && a->transfer == core.transfer()) {
          core.abort();
        }
      });
      if (failed) return Unexpected(*failed);
    }
    if (!local && !core.outcome()) {
      if (auto failed = hash_what_is_there(kHashPerWakeup)) local = failed;
      if (options.checkpoint && hasher.hashed() != checkpointed_at &&
          now() - checkpointed >= options.checkpoint_every) {
        options.checkpoint(hasher.blocks());
        checkpointed = now();
        checkpointed_at = hasher.hashed();
      }
    }
    if (verify && !local && hasher.done()) {
      // Every byte is there and hashed (a step per wake-up above, so the loop keeps answering
      // the sender's repeated END with ACKs while a long tail is read).
      ext::EndStatus verdict = ext::EndStatus::checksum_mismatch;
      if (hasher.digest() == *verify) {
        verdict = commit() ? ext::EndStatus::in_place : ext::EndStatus::failed;
      }
      core.on_verified(verdict);
      verify.reset();
      last_heard = now();
      continue;  // the END_OK goes out at the top of the loop
    }
    if (auto t = core.deadline(); t && *t <= now()) core.on_timeout(now());
    if (options.progress && core.present().count() != reported) {
      reported = core.present().count();
      options.progress(reported);
    }
  }
  return *core.outcome();
}

}  // namespace

Result<ext::EndStatus, TransferError> receive_extended(int fd, const io::SocketAddress& peer,
                                                       const storage::File& file,
                                                       TransferReceiver& core,
                                                       const ExtendedFraming& framing,
                                                       const std::function<bool()>& commit,
                                                       const ExtendedTransferOptions& options) {
  storage::InOrderHasher hasher(core.size(), storage::partial_block_size(core.size()));
  auto got = receive_loop(fd, peer, file, core, framing, hasher, commit, options);
  // Not in place: what was hashed is recorded for the next attempt. Nothing more is read now
  // (a write may just have failed, and a stop must be quick): bytes past the hashed prefix are
  // sent again, and only hashed blocks are ever offered.
  if (options.checkpoint && !(got && *got == ext::EndStatus::in_place) &&
      !(got && *got == ext::EndStatus::checksum_mismatch)) {
    options.checkpoint(hasher.blocks());
  }
  return got;
}

}  // namespace ferry::session
