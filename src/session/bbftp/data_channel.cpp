#include "session/bbftp/data_channel.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace ferry::session {
namespace {

// The marking bbftp calls QBSS (QBone Scavenger Service): IP TOS 0x20 (DSCP CS1).
constexpr int kQbssTos = 0x20;

void apply_options(int fd, const DataEndpoint& e, const bbftp::TransferPlan& plan) {
  io::set_buffer_sizes(fd, e.send_buffer_bytes, e.recv_buffer_bytes);
  if (plan.qbss) io::set_tos(fd, kQbssTos);
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
    auto s = io::accept_from(sockets_[i].get(), at.only_from_peer ? &at.peer : nullptr, at.timeout,
                             at.on_stranger);
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
    apply_options(s->get(), to, plan);
    socks.push_back(std::move(*s));
  }
  return socks;
}

std::optional<StreamError> move_streams(std::vector<UniqueFd>& socks, const storage::File& file,
                                        const bbftp::TransferPlan& plan, DataDirection direction,
                                        StreamTimeouts timeouts, const ProgressFn& progress) {
  if (socks.size() != plan.segments.size()) {
    return StreamError{EPROTO, "data streams: " + std::to_string(socks.size()) +
                                   " connections for " + std::to_string(plan.segments.size()) +
                                   " segments"};
  }
  const std::size_t n = socks.size();
  std::vector<StreamResult<void>> results(n);
  std::atomic<std::uint64_t> moved{0};
  std::mutex mu;
  std::condition_variable ended;
  std::size_t running = n;
  {
    std::vector<std::jthread> workers;
    for (std::size_t i = 0; i < n; ++i) {
      const StreamSpec spec{plan.segments[i].offset,
                            plan.segments[i].length,
                            plan.block_bytes,
                            plan.compressed,
                            timeouts.data,
                            timeouts.ack,
                            progress ? &moved : nullptr};
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
  return std::nullopt;
}

}  // namespace ferry::session
