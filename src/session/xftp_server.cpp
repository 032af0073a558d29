#include "session/xftp_server.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "io/udp.hpp"
#include "proto/xftp/legacy_server.hpp"
#include "session/xftp_request_handler.hpp"
#include "session/xftp_transfer.hpp"

namespace ferry::session {
namespace {

using namespace xftp;
using Clock = std::chrono::steady_clock;

struct Job {
  io::SocketAddress from;
  Datagram request;
  std::string key;
};

struct Transfer {
  std::shared_ptr<std::atomic<bool>> done;
  std::jthread thread;
};

}  // namespace

struct XftpServer::State {
  State(UniqueFd c, storage::Sandbox r, XftpServerOptions o)
      : control(std::move(c)),
        root(std::move(r)),
        options(o),
        handler(root),
        filter(o.duplicate_window) {}
  UniqueFd control;
  storage::Sandbox root;
  XftpServerOptions options;
  XftpRequestHandler handler;
  io::SocketAddress local;
  const std::atomic<bool>* stop = nullptr;

  std::mutex mu;  // guards everything below up to the transfers
  std::condition_variable wake;
  std::deque<Job> queue;
  std::map<std::string, int> queued_per_client;
  DuplicateFilter filter;
  bool closing = false;

  std::atomic<int> transfers_running{0};
  std::mutex transfers_mu;
  std::list<Transfer> transfers;

  void send(const io::SocketAddress& to, const std::vector<std::uint8_t>& bytes) {
    // sendto on one UDP socket from several threads is safe: each datagram goes out whole.
    if (auto s = io::send_to(control.get(), as_bytes(bytes), to); !s) {
      spdlog::debug("xftpd: reply to {}: {}", to.to_string(), s.error().message());
    }
  }
  void accept(const io::SocketAddress& from, Datagram request);
  void work();
  void execute(const Job& job);
  // Remembers the reply before sending it: a copy of the request arriving right after the reply
  // must find it answered, not in progress (which would be dropped).
  void answer(const Job& job, const std::vector<std::uint8_t>& reply) {
    {
      std::lock_guard lock(mu);
      filter.finish(job.key, reply);
    }
    send(job.from, reply);
  }
  bool reserve_transfer() {
    if (transfers_running.fetch_add(1) < options.max_transfers) return true;
    --transfers_running;
    return false;
  }
  // Opens the data socket and returns the OK reply with its port, plus what starts the transfer
  // (after the reply has gone out); INTERNAL_ERROR and nothing to start without a socket.
  std::pair<std::vector<std::uint8_t>, std::function<void()>> prepare(const Job& job,
                                                                      XftpOutcome outcome);
};

XftpServer::XftpServer(UniqueFd control, storage::Sandbox root, XftpServerOptions options)
    : state_(std::make_unique<State>(std::move(control), std::move(root), options)) {
  if (auto a = io::SocketAddress::of_local(state_->control.get())) state_->local = *a;
}

XftpServer::~XftpServer() = default;

void XftpServer::run(const std::atomic<bool>& stop) {
  State& s = *state_;
  s.stop = &stop;
  std::vector<std::jthread> workers;
  for (int i = 0; i < std::max(1, s.options.workers); ++i) workers.emplace_back([&s] { s.work(); });
  std::vector<std::byte> buf(65536);
  while (!stop.load()) {
    io::SocketAddress from;
    auto n = io::receive_from(s.control.get(), buf, from, std::chrono::milliseconds(200));
    if (!n) {
      if (n.error().sys_errno != ETIMEDOUT) spdlog::warn("xftpd: {}", n.error().message());
      continue;
    }
    auto d = decode({buf.data(), *n});
    // Too short to echo, not ours, or not a request: the original drops these too.
    if (!d || d->status != Status::request) continue;
    s.accept(from, std::move(*d));
  }
  {
    std::lock_guard lock(s.mu);
    s.closing = true;
  }
  s.wake.notify_all();
  workers.clear();  // joins
  std::lock_guard lock(s.transfers_mu);
  s.transfers.clear();  // joins; each notices `stop` within a quarter of a second
}

void XftpServer::State::accept(const io::SocketAddress& from, Datagram request) {
  std::string key = DuplicateFilter::key(from.to_string(), request);
  std::unique_lock lock(mu);
  auto seen = filter.begin(key, request, Clock::now());
  if (seen.seen == DuplicateFilter::Seen::answered) {
    lock.unlock();
    send(from, seen.reply);  // answered again, never executed twice
    return;
  }
  if (seen.seen == DuplicateFilter::Seen::in_progress) return;  // the first one's reply is coming
  const std::string client = from.host();
  int& queued = queued_per_client[client];
  if (queue.size() >= static_cast<std::size_t>(options.max_queued) ||
      queued >= options.max_queued_per_client) {
    filter.forget(key);
    if (queued == 0) queued_per_client.erase(client);
    lock.unlock();
    spdlog::debug("xftpd: busy, {} from {} refused", command_name(request.command),
                  from.to_string());
    send(from, reply_to(request, Status::internal_error));
    return;
  }
  ++queued;
  queue.push_back({from, std::move(request), std::move(key)});
  lock.unlock();
  wake.notify_one();
}

void XftpServer::State::work() {
  for (;;) {
    std::unique_lock lock(mu);
    wake.wait(lock, [this] { return closing || !queue.empty(); });
    if (closing) return;
    Job job = std::move(queue.front());
    queue.pop_front();
    if (auto it = queued_per_client.find(job.from.host()); it != queued_per_client.end()) {
      if (--it->second <= 0) queued_per_client.erase(it);
    }
    lock.unlock();
    execute(job);
  }
}

void XftpServer::State::execute(const Job& job) {
  const Datagram& req = job.request;
  auto request = classify(req);
  if (!request) {
    spdlog::info("xftpd: {} from {} refused: INVALID", command_name(req.command),
                 job.from.to_string());
    answer(job, reply_to(req, request.error()));
    return;
  }
  const bool wants_transfer =
      request->command == Command::upload || request->command == Command::download;
  const bool reserved = wants_transfer && reserve_transfer();
  XftpOutcome outcome = handler.execute(*request, reserved);
  if (reserved && !outcome.upload && !outcome.download) --transfers_running;
  if (outcome.left_out > 0) {
    spdlog::info("xftpd: LIST {}: {} entries left out to fit a legacy datagram", request->path,
                 outcome.left_out);
  }
  const auto level = request->command == Command::list ? spdlog::level::debug : spdlog::level::info;
  spdlog::log(level, "xftpd: {} {} from {}: {}", command_name(req.command), request->path,
              job.from.to_string(), status_name(outcome.status));
  if (outcome.upload || outcome.download) {
    auto [reply, start] = prepare(job, std::move(outcome));
    answer(job, reply);
    if (start) start();
    return;
  }
  answer(job, reply_to(req, outcome.status, std::move(outcome.data)));
}

std::pair<std::vector<std::uint8_t>, std::function<void()>> XftpServer::State::prepare(
    const Job& job, XftpOutcome outcome) {
  io::SocketAddress where = local;
  where.set_port(0);
  auto fd = io::bind_udp(where);
  std::optional<io::SocketAddress> bound;
  std::string why;
  if (fd) {
    auto b = io::SocketAddress::of_local(fd->get());
    if (b)
      bound = *b;
    else
      why = b.error().message();
  } else {
    why = fd.error().message();
  }
  if (!bound) {
    spdlog::error("xftpd: no data socket: {}", why);
    if (outcome.upload) outcome.upload->abort();
    --transfers_running;
    return {reply_to(job.request, Status::internal_error), {}};
  }
  auto reply = reply_to(job.request, Status::ok, encode_port(bound->port()));
  auto body = [this, from = job.from, id = job.request.id, path = job.request.data,
               sock = std::make_shared<UniqueFd>(std::move(*fd)),
               out = std::make_shared<XftpOutcome>(std::move(outcome))] {
    const int cpus = static_cast<int>(std::max(2U, std::thread::hardware_concurrency()));
    const bool poll = transfers_running.load() <= cpus / 2;
    const StopAndWaitOptions o{
        .idle = options.idle,
        .stop = stop,
        .progress = {},
        .busy_poll = poll ? options.busy_poll : std::chrono::microseconds(0)};
    if (out->upload) {
      auto got =
          receive_stop_and_wait(sock->get(), from, *out->upload, encode(upload_ack(id)), {}, o);
      auto committed = got ? out->upload->commit() : storage::Result<void>{};
      if (got && committed) {
        spdlog::info("xftpd: upload {} ({} bytes) from {} done", path, *got, from.to_string());
      } else {
        out->upload->abort();
        spdlog::warn("xftpd: upload {} from {} abandoned: {}", path, from.to_string(),
                     got ? committed.error().message() : got.error().message);
      }
    } else {
      auto sent = send_stop_and_wait(sock->get(), from, *out->download, id, 3, o);
      if (sent) {
        spdlog::info("xftpd: download {} ({} bytes) to {} done", path, *sent, from.to_string());
      } else {
        spdlog::warn("xftpd: download {} to {} abandoned: {}", path, from.to_string(),
                     sent.error().message);
      }
    }
  };
  auto start = [this, body = std::move(body)]() mutable {
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::lock_guard lock(transfers_mu);
    transfers.remove_if([](const Transfer& t) { return t.done->load(); });  // joins finished ones
    transfers.push_back({done, std::jthread([this, done, body = std::move(body)] {
                           body();
                           --transfers_running;
                           done->store(true);
                         })});
  };
  return {std::move(reply), std::move(start)};
}

}  // namespace ferry::session
