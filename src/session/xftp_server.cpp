#include "session/xftp_server.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "core/utf8.hpp"
#include "io/udp.hpp"
#include "proto/xftp/legacy.hpp"
#include "storage/atomic_writer.hpp"

namespace ferry::session {
namespace {

using namespace xftp;
using Clock = std::chrono::steady_clock;

Bytes as_view(const std::vector<std::uint8_t>& v) {
  return {reinterpret_cast<const std::byte*>(v.data()), v.size()};
}

// The spec's path rule: UTF-8, no NUL, no ".." component at all (stricter than the sandbox, on
// purpose); leading slashes mean the root.
bool acceptable_path(std::string_view p) {
  if (p.empty() || p.find('\0') != std::string_view::npos || !is_valid_utf8(p)) return false;
  for (auto c : storage::components(p)) {
    if (c == "..") return false;
  }
  return true;
}

Status status_of(const storage::Error& e) {
  switch (e.code) {
    case storage::Errc::not_found:
      return Status::not_found;
    case storage::Errc::exists:
      return Status::file_exists;
    case storage::Errc::escape:
    case storage::Errc::invalid_name:
    case storage::Errc::name_too_long:
    case storage::Errc::not_a_directory:
    case storage::Errc::is_a_directory:
    case storage::Errc::not_empty:
    case storage::Errc::symlink_loop:
      return Status::invalid;
    default:
      return Status::internal_error;
  }
}

}  // namespace

struct XftpServer::State {
  State(UniqueFd c, storage::Sandbox r, XftpServerOptions o)
      : control(std::move(c)), root(std::move(r)), options(o) {}
  UniqueFd control;
  storage::Sandbox root;
  XftpServerOptions options;
  io::SocketAddress local;
  std::mutex mu;  // guards transfers and the send side of `control`
  std::list<std::jthread> transfers;
  std::atomic<int> running{0};
  struct Seen {
    std::vector<std::uint8_t> reply;
    Clock::time_point at;
  };
  std::map<std::string, Seen> seen;  // duplicate-request memory

  void reply(const io::SocketAddress& to, const Datagram& d) {
    const auto bytes = encode(d);
    std::lock_guard lock(mu);
    (void)io::send_to(control.get(), as_view(bytes), to);
  }
  std::vector<std::uint8_t> answer(const Datagram& req, Status s, std::string data = {}) {
    return encode({s, req.command, req.id, std::move(data)});
  }

  void handle(const io::SocketAddress& from, const Datagram& req);
  std::vector<std::uint8_t> list(const Datagram& req);
  std::vector<std::uint8_t> simple(const Datagram& req);
  std::vector<std::uint8_t> upload(const io::SocketAddress& from, const Datagram& req);
  std::vector<std::uint8_t> download(const io::SocketAddress& from, const Datagram& req);
  ferry::Result<std::pair<UniqueFd, std::uint16_t>, std::string> data_socket();
  // Opens the transfer's data socket, runs `body(fd)` on its own thread and returns the OK reply
  // carrying the port (INTERNAL_ERROR when no socket could be had).
  std::vector<std::uint8_t> launch(const Datagram& req, std::function<void(int)> body);
};

XftpServer::XftpServer(UniqueFd control, storage::Sandbox root, XftpServerOptions options)
    : state_(std::make_unique<State>(std::move(control), std::move(root), options)) {
  if (auto a = io::SocketAddress::of_local(state_->control.get())) state_->local = *a;
}

XftpServer::~XftpServer() = default;

void XftpServer::run(const std::atomic<bool>& stop) {
  State& s = *state_;
  std::vector<std::byte> buf(65536);
  while (!stop.load()) {
    io::SocketAddress from;
    auto n = io::receive_from(s.control.get(), buf, from, std::chrono::milliseconds(200));
    if (!n) {
      if (n.error().sys_errno != ETIMEDOUT) spdlog::warn("xftpd: {}", n.error().message());
      continue;
    }
    auto d = decode({buf.data(), *n});
    if (!d) continue;  // too short to echo, or not ours: the original drops these too
    if (d->status != Status::request) continue;
    s.handle(from, *d);
  }
  std::lock_guard lock(s.mu);
  s.transfers.clear();  // joins
}

void XftpServer::State::handle(const io::SocketAddress& from, const Datagram& req) {
  const auto now = Clock::now();
  for (auto it = seen.begin(); it != seen.end();) {
    it = now - it->second.at > options.duplicate_window ? seen.erase(it) : std::next(it);
  }
  const std::string key = from.to_string() + '\0' + std::string(req.id.begin(), req.id.end()) +
                          '\0' + static_cast<char>(req.command) + req.data;
  if (req.command != static_cast<std::uint8_t>(Command::list)) {
    if (auto it = seen.find(key); it != seen.end()) {
      std::lock_guard lock(mu);
      (void)io::send_to(control.get(), as_view(it->second.reply), from);
      return;  // answered again, never executed twice
    }
  }
  std::vector<std::uint8_t> out;
  const bool path_ok =
      acceptable_path(req.data) || req.command == static_cast<std::uint8_t>(Command::move);
  if (!path_ok) {
    out = answer(req, Status::invalid);
  } else {
    switch (static_cast<Command>(req.command)) {
      case Command::list:
        out = list(req);
        break;
      case Command::upload:
        out = upload(from, req);
        break;
      case Command::download:
        out = download(from, req);
        break;
      case Command::remove:
      case Command::mkdir:
      case Command::move:
        out = simple(req);
        break;
      default:
        out = answer(req, Status::invalid);
        break;
    }
  }
  if (out.empty()) return;  // the transfer thread sent the reply itself
  if (req.command != static_cast<std::uint8_t>(Command::list)) seen[key] = {out, now};
  std::lock_guard lock(mu);
  (void)io::send_to(control.get(), as_view(out), from);
}

std::vector<std::uint8_t> XftpServer::State::list(const Datagram& req) {
  auto entries = root.list(req.data);
  if (!entries) {
    if (entries.error().code == storage::Errc::not_a_directory) return answer(req, Status::invalid);
    return answer(req, status_of(entries.error()));
  }
  std::vector<std::string> dirs, files;
  for (const auto& e : *entries) {
    if (e.name == "." || e.name == "..") continue;
    (e.target == storage::FileType::directory ? dirs : files).push_back(e.name);
  }
  // The original client reads 4096 bytes at most: leave out what does not fit.
  std::string json = list_json(dirs, files);
  std::size_t dropped = 0;
  while (kHeaderSize + json.size() > kLegacyDatagram && !(dirs.empty() && files.empty())) {
    (files.empty() ? dirs : files).pop_back();
    ++dropped;
    json = list_json(dirs, files);
  }
  if (dropped > 0) {
    spdlog::info("xftpd: LIST {}: {} entries left out to fit a legacy datagram", req.data, dropped);
  }
  return answer(req, Status::ok, json);
}

std::vector<std::uint8_t> XftpServer::State::simple(const Datagram& req) {
  ferry::Result<void, storage::Error> r;
  switch (static_cast<Command>(req.command)) {
    case Command::mkdir:
      r = root.mkdir(req.data, 0777, false);
      break;
    case Command::remove: {
      auto st = root.stat(req.data, storage::Follow::no);
      if (!st) return answer(req, status_of(st.error()));
      if (storage::components(req.data).empty()) return answer(req, Status::invalid);
      r = st->type == storage::FileType::directory ? root.rmdir(req.data) : root.unlink(req.data);
      break;
    }
    case Command::move: {
      auto m = decode_move(req.data);
      if (!m || !acceptable_path(m->first) || !acceptable_path(m->second)) {
        return answer(req, Status::invalid);
      }
      if (!root.stat(m->first, storage::Follow::no)) return answer(req, Status::not_found);
      if (root.stat(m->second, storage::Follow::no)) return answer(req, Status::file_exists);
      r = root.rename(m->first, m->second);
      break;
    }
    default:
      return answer(req, Status::invalid);
  }
  if (!r) return answer(req, status_of(r.error()));
  return answer(req, Status::ok);
}

ferry::Result<std::pair<UniqueFd, std::uint16_t>, std::string> XftpServer::State::data_socket() {
  io::SocketAddress where = local;
  where.set_port(0);
  auto fd = io::bind_udp(where);
  if (!fd) return Unexpected(fd.error().message());
  auto bound = io::SocketAddress::of_local(fd->get());
  if (!bound) return Unexpected(bound.error().message());
  return std::pair{std::move(*fd), bound->port()};
}

std::vector<std::uint8_t> XftpServer::State::launch(const Datagram& req,
                                                    std::function<void(int)> body) {
  auto sock = data_socket();
  if (!sock) return answer(req, Status::internal_error);
  auto reply = answer(req, Status::ok, encode_port(sock->second));
  ++running;
  std::lock_guard lock(mu);
  transfers.emplace_back(
      [this, body = std::move(body), fd = std::make_shared<UniqueFd>(std::move(sock->first))] {
        body(fd->get());
        --running;
      });
  return reply;
}

std::vector<std::uint8_t> XftpServer::State::upload(const io::SocketAddress& from,
                                                    const Datagram& req) {
  if (root.stat(req.data, storage::Follow::no)) return answer(req, Status::file_exists);
  if (running.load() >= options.max_transfers) return answer(req, Status::internal_error);
  auto w = root.create(req.data, {.collision = storage::Collision::exclusive});
  if (!w) {
    return answer(req, w.error().code == storage::Errc::exists ? Status::file_exists
                                                               : Status::internal_error);
  }
  return launch(req, [this, from, id = req.id, path = req.data,
                      writer = std::make_shared<storage::AtomicWriter>(std::move(*w))](int fd) {
    std::vector<std::byte> buf(65536);
    std::uint64_t offset = 0;
    const auto ack = encode(upload_ack(id));
    bool done = false;
    for (;;) {
      io::SocketAddress peer;
      auto n = io::receive_from(fd, buf, peer, options.idle);
      if (!n) break;                                 // idle timeout: the upload is abandoned
      if (!io::same_endpoint(peer, from)) continue;  // data only from the requester
      if (*n == 0) {
        done = static_cast<bool>(writer->commit());
        break;
      }
      if (!writer->pwrite_all({buf.data(), *n}, offset)) break;
      offset += *n;
      (void)io::send_to(fd, as_view(ack), from);
    }
    if (done) {
      spdlog::info("xftpd: upload {} ({} bytes) from {}", path, offset, from.to_string());
    } else {
      writer->abort();
      spdlog::warn("xftpd: upload {} from {} abandoned after {} bytes", path, from.to_string(),
                   offset);
    }
  });
}

std::vector<std::uint8_t> XftpServer::State::download(const io::SocketAddress& from,
                                                      const Datagram& req) {
  auto st = root.stat(req.data);
  if (!st) return answer(req, status_of(st.error()));
  if (st->type != storage::FileType::regular) return answer(req, Status::invalid);
  if (running.load() >= options.max_transfers) return answer(req, Status::internal_error);
  auto f = root.open_read(req.data);
  if (!f) return answer(req, Status::internal_error);
  return launch(req, [this, from, id = req.id, path = req.data,
                      file = std::make_shared<storage::File>(std::move(*f))](int fd) {
    std::vector<std::byte> chunk(kLegacyDatagram);
    std::vector<std::byte> in(65536);
    std::uint64_t offset = 0;
    bool ok = true;
    for (;;) {
      auto n = file->pread_some(chunk, offset);
      if (!n) {
        ok = false;
        break;
      }
      if (*n == 0) break;
      if (!io::send_to(fd, {chunk.data(), *n}, from)) {
        ok = false;
        break;
      }
      // Stop and wait: the next chunk only after this one's ACK from the requester.
      bool acked = false;
      while (!acked) {
        io::SocketAddress peer;
        auto got = io::receive_from(fd, in, peer, options.idle);
        if (!got) break;
        if (!io::same_endpoint(peer, from)) continue;
        auto a = decode({in.data(), *got});
        acked = a && a->status == Status::ack && a->id == id;
      }
      if (!acked) {
        ok = false;
        break;
      }
      offset += *n;
    }
    if (ok) {
      // EOF: a zero-length datagram; repeated because a lost one would stall the client.
      for (int i = 0; i < 3; ++i) (void)io::send_to(fd, {}, from);
      spdlog::info("xftpd: download {} ({} bytes) to {}", path, offset, from.to_string());
    } else {
      spdlog::warn("xftpd: download {} to {} abandoned after {} bytes", path, from.to_string(),
                   offset);
    }
  });
}

}  // namespace ferry::session
