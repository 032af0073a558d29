#include "session/bbftp/data_channel.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "proto/bbftp/extension.hpp"

namespace ferry::session {
namespace {

// The marking bbftp calls QBSS (QBone Scavenger Service): IP TOS 0x20 (DSCP CS1).
constexpr int kQbssTos = 0x20;

void apply_options(int fd, const DataEndpoint& e, const bbftp::TransferPlan& plan) {
  io::set_buffer_sizes(fd, e.send_buffer_bytes, e.recv_buffer_bytes);
  if (plan.qbss) io::set_tos(fd, kQbssTos);
}

// A connection that has not yet shown its proof, and what it sent so far.
struct Candidate {
  UniqueFd fd;
  io::SocketAddress from;
  crypto::Digest32 got{};
  std::size_t have = 0;
  std::chrono::steady_clock::time_point since;
};
constexpr std::size_t kMaxCandidates = 16;

void set_blocking(int fd, bool blocking) {
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK);
}

// Accepts on `listener` until a connection from the peer's host shows stream `stream`'s proof.
// The connections it accepts are vetted side by side (up to kMaxCandidates, each within
// kProofTimeout), so that strangers who connect first, silent or not, delay nobody.
io::Result<UniqueFd> accept_proven(int listener, const DataEndpoint& at, std::size_t stream) {
  const auto want = crypto::bbftp_stream_proof(at.proof->key, at.proof->transfer,
                                               static_cast<std::uint32_t>(stream));
  const auto deadline = std::chrono::steady_clock::now() + at.timeout;
  std::vector<Candidate> waiting;
  auto refuse = [&](std::size_t k, const std::string& why) {
    if (at.on_unproven) at.on_unproven(waiting[k].from, why);
    waiting.erase(waiting.begin() + static_cast<std::ptrdiff_t>(k));
  };
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return Unexpected(io::Error{ETIMEDOUT, "accept"});
    for (std::size_t k = waiting.size(); k-- > 0;) {
      if (now - waiting[k].since >= kProofTimeout) refuse(k, "no proof within its time");
    }
    std::vector<pollfd> fds{{listener, POLLIN, 0}};
    for (const auto& c : waiting) fds.push_back({c.fd.get(), POLLIN, 0});
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    if (!waiting.empty()) {
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                kProofTimeout - (now - waiting.front().since)));
    }
    const int ready =
        ::poll(fds.data(), fds.size(), static_cast<int>(std::max<std::int64_t>(wait.count(), 1)));
    if (ready < 0 && errno != EINTR) return Unexpected(io::Error{errno, "poll"});
    if (ready <= 0) continue;
    // What the waiting connections sent (from the last, so that erasing keeps the indexes).
    for (std::size_t k = waiting.size(); k-- > 0;) {
      if (fds[k + 1].revents == 0) continue;
      auto& c = waiting[k];
      const ssize_t n = ::read(c.fd.get(), c.got.data() + c.have, c.got.size() - c.have);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) {
        refuse(k, "closed before its proof");
        continue;
      }
      c.have += static_cast<std::size_t>(n);
      if (c.have < c.got.size()) continue;
      if (!crypto::equal_digests(c.got, want)) {
        refuse(k, "not this session's proof");
        continue;
      }
      UniqueFd proven = std::move(c.fd);
      set_blocking(proven.get(), true);
      return proven;  // the others are closed unproven, unlogged: the stream has its connection
    }
    if ((fds[0].revents & POLLIN) == 0) continue;
    set_blocking(listener, false);  // closed after the accepts: nobody else waits on it
    for (;;) {                      // everything queued on the listener
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      UniqueFd fd(::accept4(listener, reinterpret_cast<sockaddr*>(&ss), &len,
                            SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!fd) {
        // Out of descriptors (or another lasting error): the listener stays readable, so wait
        // a little instead of spinning; the candidates' timeouts still run.
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
          ::poll(nullptr, 0, 50);
        }
        break;
      }
      io::SocketAddress from(reinterpret_cast<sockaddr*>(&ss), len);
      if (at.only_from_peer && !from.same_host(at.peer)) {
        if (at.on_stranger) at.on_stranger(from);
        continue;
      }
      if (waiting.size() >= kMaxCandidates) {
        // Full: the oldest that has sent nothing makes room (the client sends its proof as it
        // connects, so it is never silent for long); when all have sent something, the
        // newcomer waits outside.
        std::size_t silent = waiting.size();
        for (std::size_t k = 0; k < waiting.size() && silent == waiting.size(); ++k) {
          if (waiting[k].have == 0) silent = k;
        }
        if (silent == waiting.size()) {
          if (at.on_unproven) at.on_unproven(from, "too many connections waiting for proofs");
          continue;
        }
        refuse(silent, "silent while others waited for their proofs");
      }
      waiting.push_back({std::move(fd), from, {}, 0, std::chrono::steady_clock::now()});
    }
  }
}

}  // namespace

ferry::Result<DataListeners, io::Error> DataListeners::open(const DataEndpoint& at, int streams) {
  DataListeners out;
  io::SocketAddress where = at.local;
  where.set_port(0);
  for (int i = 0; i < streams; ++i) {
    auto l = at.first_port != 0
                 ? io::listen_tcp_in_range(where, at.first_port, at.last_port, at.backlog)
                 : io::listen_tcp(where, at.backlog);
    if (!l) return Unexpected(std::move(l).error());
    auto bound = io::SocketAddress::of_local(l->get());
    if (!bound) return Unexpected(std::move(bound).error());
    out.ports_.push_back(bound->port());
    out.sockets_.push_back(std::move(*l));
  }
  return out;
}

DataSockets DataListeners::accept_all(const DataEndpoint& at, const bbftp::TransferPlan& plan) {
  std::vector<UniqueFd> socks;
  for (std::size_t i = 0; i < sockets_.size(); ++i) {
    auto s = at.proof ? accept_proven(sockets_[i].get(), at, i)
                      : io::accept_from(sockets_[i].get(), at.only_from_peer ? &at.peer : nullptr,
                                        at.timeout, at.on_stranger);
    if (!s) {
      close();
      return Unexpected(DataOpenError{i, std::move(s).error()});
    }
    apply_options(s->get(), at, plan);
    socks.push_back(std::move(*s));
  }
  close();
  return socks;
}

DataSockets connect_all(const DataEndpoint& to, const std::vector<std::uint32_t>& ports,
                        const bbftp::TransferPlan& plan) {
  std::vector<UniqueFd> socks;
  for (std::size_t i = 0; i < ports.size(); ++i) {
    io::SocketAddress where = to.peer;
    where.set_port(static_cast<std::uint16_t>(ports[i]));
    auto s = io::connect_tcp(where, to.timeout);
    if (!s) return Unexpected(DataOpenError{i, std::move(s).error()});
    if (to.proof) {
      const auto proof = crypto::bbftp_stream_proof(to.proof->key, to.proof->transfer,
                                                    static_cast<std::uint32_t>(i));
      if (auto w = io::write_all(s->get(), std::as_bytes(std::span(proof)), to.timeout); !w) {
        return Unexpected(DataOpenError{i, std::move(w).error()});
      }
    }
    apply_options(s->get(), to, plan);
    socks.push_back(std::move(*s));
  }
  return socks;
}

std::optional<StreamError> move_streams(std::vector<UniqueFd>& socks, const storage::File& file,
                                        const bbftp::TransferPlan& plan, DataDirection direction,
                                        StreamTimeouts timeouts, const ProgressFn& progress,
                                        TransferSums* sums) {
  if (socks.size() != plan.segments.size()) {
    return StreamError{EPROTO, "data streams: " + std::to_string(socks.size()) +
                                   " connections for " + std::to_string(plan.segments.size()) +
                                   " segments"};
  }
  const std::size_t n = socks.size();
  std::vector<StreamResult<void>> results(n);
  std::vector<std::uint64_t> stream_resent(n, 0);
  std::atomic<std::uint64_t> moved{sums != nullptr ? sums->already : 0};
  if (sums != nullptr) {
    const std::uint64_t b = plan.integrity_block;
    if (b == 0 || plan.blocks.size() != n) {
      return StreamError{EINVAL, "data streams: the plan has no integrity blocks"};
    }
    sums->sums.resize(std::max<std::size_t>(sums->sums.size(), (plan.size + b - 1) / b));
  }
  std::mutex mu;
  std::condition_variable ended;
  std::size_t running = n;
  {
    std::vector<std::jthread> workers;
    for (std::size_t i = 0; i < n; ++i) {
      StreamSpec spec{plan.segments[i].offset,
                      plan.segments[i].length,
                      plan.block_bytes,
                      plan.compressed,
                      timeouts.data,
                      timeouts.ack,
                      progress ? &moved : nullptr,
                      std::nullopt};
      if (sums != nullptr) {
        spec.check = StreamSpec::Check{sums->block_digest, plan.integrity_block, plan.size,
                                       plan.blocks[i],     &sums->sums,          &stream_resent[i],
                                       sums->arrived,      sums->ahead};
      }
      workers.emplace_back([&, i, spec] {
        const int sock = socks[i].get();
        results[i] = direction == DataDirection::send ? send_segment(sock, file, spec)
                                                      : receive_segment(sock, file, spec);
        std::lock_guard lock(mu);
        if (--running == 0) ended.notify_one();
      });
    }
    if (progress) {
      std::unique_lock lock(mu);
      while (!ended.wait_for(lock, std::chrono::milliseconds(100), [&] { return running == 0; })) {
        lock.unlock();
        progress(moved.load(std::memory_order_relaxed), plan.size);
        lock.lock();
      }
    }
  }  // joins
  if (progress) progress(moved.load(), plan.size);
  for (auto& r : results) {
    if (!r) return r.error();
  }
  if (sums != nullptr) {
    sums->resent = 0;
    for (std::size_t i = 0; i < n; ++i) sums->resent += stream_resent[i];
  }
  return std::nullopt;
}

}  // namespace ferry::session
