#include "session/xftp/server.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "core/printable.hpp"
#include "io/udp.hpp"
#include "session/xftp/extended_transfer.hpp"
#include "session/xftp/request_handler.hpp"
#include "session/xftp/transfer.hpp"
#include "storage/partial.hpp"

namespace ferry::session {
namespace {

using namespace xftp;
using Clock = std::chrono::steady_clock;

// Datagrams taken from the control socket per wake-up, so one flood cannot hold the loop.
constexpr int kDatagramsPerWakeup = 64;
// How long a new upload waits for the abandoned one it replaces to let go of the name.
constexpr auto kReplaceWait = std::chrono::seconds(2);
// Ranges of partial data an UPLOAD reply offers at most (they fit a 1232-byte datagram with
// their checksums); verified blocks past them are sent again.
constexpr std::size_t kMaxOfferedRanges = 40;
constexpr auto kSweepEvery = std::chrono::hours(1);
constexpr auto kDropsReportEvery = std::chrono::minutes(1);
// At most this long reading partial data again before an UPLOAD's reply (the client waits):
// blocks not checked by then are not offered, and are sent again.
constexpr auto kVerifyBudget = std::chrono::seconds(5);
// Listings kept for their next pages: this long, this many, this many bytes in all.
constexpr auto kListingKept = std::chrono::seconds(30);
constexpr std::size_t kListingsKept = 64;
constexpr std::size_t kListingBytes = 64 << 20;

std::uint64_t random_seed() {
  std::random_device rng;
  return (static_cast<std::uint64_t>(rng()) << 32) ^ rng();
}

struct Job {
  io::SocketAddress from;
  Datagram request;
  Request parsed;
  DuplicateFilter::Key key;
  std::optional<ExtendedRequest> extended;  // an extended-mode request instead
};

// A directory's names, sorted, with what each leads to.
using Names = std::vector<std::pair<std::string, storage::FileType>>;

// The names an extended LIST's first page read, for its next pages.
struct CachedListing {
  std::weak_ptr<ConnectionKeys> connection;
  std::string path;
  Clock::time_point at;
  std::shared_ptr<const Names> names;
  std::size_t bytes = 0;
};

struct Transfer {
  std::shared_ptr<std::atomic<bool>> stop;  // set to abandon it (shutdown, or replaced)
  std::shared_ptr<std::atomic<bool>> done;
  std::jthread thread;
};

// An upload in progress, by the virtual path it will appear under: a new upload of the same
// path from the same host replaces it at once (its client is gone or has given up).
struct ActiveUpload {
  std::string host;
  std::shared_ptr<std::atomic<bool>> stop;
  std::shared_future<void> ended;
};

}  // namespace

struct XftpServer::State {
  State(io::EventLoop& l, UniqueFd c, storage::Sandbox r, XftpServerOptions o)
      : loop(l),
        control(std::move(c)),
        root(std::move(r)),
        options(o),
        handler(root),
        extended(o.key, o.extended),
        filter(o.duplicates, random_seed()),
        refusals(o.refusal_logs_per_second, o.refusal_logs_per_second * 2) {}
  io::EventLoop& loop;
  UniqueFd control;
  storage::Sandbox root;
  XftpServerOptions options;
  XftpRequestHandler handler;
  ExtendedConnections extended;
  io::SocketAddress local;
  std::optional<io::ReadWatch> watch;
  std::vector<std::jthread> workers;
  std::vector<std::byte> buf = std::vector<std::byte>(65536);
  std::atomic<bool> stopping{false};

  std::mutex mu;  // guards the queue, the duplicate memory and `closing`
  std::condition_variable wake;
  std::deque<Job> queue;
  std::map<std::string, int> queued_per_client;
  DuplicateFilter filter;
  bool closing = false;
  // Set when a burst has ended (its last transfer, or the duplicate memory emptying): a worker
  // joins the finished transfers' threads and gives the allocator's free memory back.
  bool tidy = false;
  bool sweep_due = false;
  std::optional<io::Timer> sweep_timer;
  // Extended-mode datagrams dropped on the control port (strangers, bad tags, malformed ones),
  // reported once a minute when there were any: each transfer reports its own.
  std::optional<io::Timer> drops_timer;
  std::uint64_t drops_reported = 0;
  void arm_drops_timer();
  void report_drops();

  std::mutex log_mu;
  RateLimit refusals;

  std::mutex listings_mu;             // guards `listings` and `listing_bytes`
  std::list<CachedListing> listings;  // newest first
  std::size_t listing_bytes = 0;
  std::shared_ptr<const Names> cached_listing(const ConnectionKeys& c, const std::string& path);
  void keep_listing(const std::shared_ptr<ConnectionKeys>& c, const std::string& path,
                    std::shared_ptr<const Names> names);

  std::atomic<int> transfers_running{0};
  std::mutex transfers_mu;  // guards `transfers` and `uploads`
  std::list<Transfer> transfers;
  std::map<std::string, ActiveUpload> uploads;

  void send(const io::SocketAddress& to, const std::vector<std::uint8_t>& bytes,
            io::FullQueue full = io::FullQueue::wait) {
    // sendto on one UDP socket from several threads is safe: each datagram goes out whole.
    if (auto s = io::send_to(control.get(), as_bytes(bytes), to, full); !s) {
      spdlog::debug("xftpd: reply to {}: {}", to.to_string(), s.error().message());
    }
  }
  void on_readable();
  void on_extended(const io::SocketAddress& from, Bytes datagram);
  void execute_extended(const Job& job);
  // Runs `body` on a transfer thread of its own (counted in transfers_running, which the caller
  // has reserved); `path` is an upload's, to be replaced by a later upload of the same host.
  void start_transfer(std::function<void()> body, std::shared_ptr<std::atomic<bool>> stop,
                      std::shared_ptr<std::promise<void>> ended, std::string path, bool upload);
  void accept(const io::SocketAddress& from, Datagram request);
  void refuse(const io::SocketAddress& from, const Datagram& request, Status status,
              std::string_view why);
  void log_refusal(const io::SocketAddress& from, std::uint8_t command, std::string_view path,
                   std::string_view why);
  void work();
  void execute(const Job& job);
  void ask_tidy() {
    {
      std::lock_guard lock(mu);
      tidy = true;
    }
    wake.notify_one();
  }
  void tidy_up();
  // Removes what killed transfers left and partial data past its expiry (a worker's job: it
  // walks the served tree). At start, then every kSweepEvery from the loop's timer.
  void sweep();
  void ask_sweep() {
    {
      std::lock_guard lock(mu);
      sweep_due = true;
    }
    wake.notify_one();
  }
  void arm_sweep_timer();
  // Remembers the reply before sending it: a copy of the request arriving right after the reply
  // must find it answered, not in progress (which would be dropped).
  void answer(const Job& job, const std::vector<std::uint8_t>& reply) {
    {
      std::lock_guard lock(mu);
      filter.finish(job.key, reply, Clock::now());
    }
    send(job.from, reply);
  }
  bool reserve_transfer() {
    if (transfers_running.fetch_add(1) < options.max_transfers) return true;
    --transfers_running;
    return false;
  }
  // Abandons the upload of `path` in progress from `host`, if there is one, and waits until it
  // has let go of the name. False when there is none (or another host's).
  bool replace_upload(const std::string& path, const std::string& host);
  Result<UniqueFd, io::Error> data_socket() const;
  // Opens the data socket and returns the OK reply with its port, plus what starts the transfer
  // (after the reply has gone out); INTERNAL_ERROR and nothing to start without a socket.
  std::pair<std::vector<std::uint8_t>, std::function<void()>> prepare(const Job& job,
                                                                      XftpOutcome outcome);
};

XftpServer::XftpServer(io::EventLoop& loop, UniqueFd control, storage::Sandbox root,
                       XftpServerOptions options)
    : state_(std::make_unique<State>(loop, std::move(control), std::move(root), options)) {
  if (auto a = io::SocketAddress::of_local(state_->control.get())) state_->local = *a;
}

XftpServer::~XftpServer() {
  stop();
}

void XftpServer::start() {
  State& s = *state_;
  s.sweep();  // before any request: nothing of ours is being written yet
  s.arm_sweep_timer();
  s.arm_drops_timer();
  for (int i = 0; i < std::max(1, s.options.workers); ++i) {
    s.workers.emplace_back([&s] { s.work(); });
  }
  s.watch.emplace(s.loop, s.control.get(), [&s] { s.on_readable(); });
}

void XftpServer::stop() {
  State& s = *state_;
  if (s.stopping.exchange(true)) return;
  s.watch.reset();
  s.sweep_timer.reset();  // cancels it
  s.drops_timer.reset();
  {
    std::lock_guard lock(s.mu);
    s.closing = true;
  }
  s.wake.notify_all();
  s.workers.clear();  // joins
  std::list<Transfer> ending;
  {
    std::lock_guard lock(s.transfers_mu);
    for (auto& t : s.transfers) t.stop->store(true);
    ending.swap(s.transfers);
  }
  ending.clear();    // joins (unlocked: a transfer's last step takes the lock); each notices its
                     // stop within a quarter of a second
  s.report_drops();  // what the last minute dropped, before the daemon's last words
}

void XftpServer::State::on_readable() {
  for (int i = 0; i < kDatagramsPerWakeup; ++i) {
    io::SocketAddress from;
    auto n = io::try_receive_datagram(control.get(), buf, from);
    if (!n) {
      const int e = n.error().sys_errno;
      if (e != EAGAIN && e != EWOULDBLOCK) spdlog::warn("xftpd: {}", n.error().message());
      return;
    }
    if (*n > 0 && u8(buf[0]) == ext::kMagic) {
      on_extended(from, {buf.data(), *n});
      continue;
    }
    // With a key nothing is served in clear: a legacy request cannot be sealed.
    if (options.key) continue;
    auto d = decode({buf.data(), *n});
    // Too short to echo, not ours, or not a request: the original drops these too.
    if (!d || d->status != Status::request) continue;
    accept(from, std::move(*d));
  }
}

void XftpServer::State::log_refusal(const io::SocketAddress& from, std::uint8_t command,
                                    std::string_view path, std::string_view why) {
  std::lock_guard lock(log_mu);
  if (!refusals.allow(Clock::now())) return;
  const auto skipped = refusals.take_suppressed();
  spdlog::info("xftpd: {} {} from {} refused: {}{}", command_name(command), printable(path),
               from.to_string(), why,
               skipped > 0 ? fmt::format(" ({} more refusals not logged)", skipped) : "");
}

void XftpServer::State::refuse(const io::SocketAddress& from, const Datagram& request,
                               Status status, std::string_view why) {
  log_refusal(from, request.command, request.data, why);
  // From the loop: never wait for a full queue (the client repeats what it wants).
  send(from, reply_to(request, status), io::FullQueue::fail);
}

void XftpServer::State::accept(const io::SocketAddress& from, Datagram request) {
  auto parsed = classify(request);
  if (!parsed) {
    refuse(from, request, parsed.error(), status_name(parsed.error()));
    return;  // refused for what it is: a repeat is refused the same way, nothing to remember
  }
  const std::string client = from.source();
  auto key = filter.key(client, from.to_string(), request);
  std::unique_lock lock(mu);
  const std::size_t remembered = filter.size();
  auto seen = filter.check(key, request, Clock::now());
  // The duplicate memory of a burst has just expired: what it held can go back.
  if (remembered > 0 && filter.size() == 0) {
    tidy = true;
    wake.notify_one();
  }
  switch (seen.seen) {
    case DuplicateFilter::Seen::answered:
      lock.unlock();
      send(from, seen.reply, io::FullQueue::fail);  // answered again, never executed twice
      return;
    case DuplicateFilter::Seen::in_progress:
      return;  // the first one's reply is coming
    case DuplicateFilter::Seen::over_budget:
      lock.unlock();
      refuse(from, request, Status::internal_error, "busy (too many recent requests)");
      return;
    case DuplicateFilter::Seen::fresh:
      break;
  }
  auto it = queued_per_client.find(client);
  const int queued = it == queued_per_client.end() ? 0 : it->second;
  if (queue.size() >= static_cast<std::size_t>(options.max_queued) ||
      queued >= options.max_queued_per_client) {
    lock.unlock();
    refuse(from, request, Status::internal_error, "busy (queue full)");
    return;
  }
  if (!filter.remember(key, Clock::now())) {
    lock.unlock();
    refuse(from, request, Status::internal_error, "busy (too many recent requests)");
    return;
  }
  ++queued_per_client[client];
  queue.push_back({from, std::move(request), std::move(*parsed), std::move(key), std::nullopt});
  lock.unlock();
  wake.notify_one();
}

void XftpServer::State::on_extended(const io::SocketAddress& from, Bytes datagram) {
  auto o = extended.on_datagram(from, datagram, Clock::now());
  if (!o.reply.empty()) send(from, o.reply, io::FullQueue::fail);
  if (!o.work) return;
  const std::string client = from.source();
  std::unique_lock lock(mu);
  auto it = queued_per_client.find(client);
  const int queued = it == queued_per_client.end() ? 0 : it->second;
  if (queue.size() >= static_cast<std::size_t>(options.max_queued) ||
      queued >= options.max_queued_per_client) {
    lock.unlock();
    // BUSY: the client asks again after the delay, and the repeat finds this answer.
    send(from, extended.reply(*o.work, ext::Status::busy, ext::BusyResult{250}),
         io::FullQueue::fail);
    return;
  }
  ++queued_per_client[client];
  Job job;
  job.from = from;
  job.extended = std::move(o.work);
  queue.push_back(std::move(job));
  lock.unlock();
  wake.notify_one();
}

void XftpServer::State::work() {
  for (;;) {
    std::unique_lock lock(mu);
    wake.wait(lock, [this] { return closing || tidy || sweep_due || !queue.empty(); });
    if (closing) return;
    if (tidy) {
      tidy = false;
      lock.unlock();
      tidy_up();
      continue;
    }
    if (sweep_due) {
      sweep_due = false;
      lock.unlock();
      sweep();
      continue;
    }
    Job job = std::move(queue.front());
    queue.pop_front();
    if (auto it = queued_per_client.find(job.from.source()); it != queued_per_client.end()) {
      if (--it->second <= 0) queued_per_client.erase(it);
    }
    lock.unlock();
    execute(job);
  }
}

void XftpServer::State::sweep() {
  auto swept = root.remove_stale_temporaries(options.partial_expiry);
  if (!swept) {
    spdlog::warn("xftpd: looking for abandoned temporaries: {}", swept.error().message());
  } else if (*swept > 0) {
    spdlog::info(
        "xftpd: removed {} temporaries left behind (of killed uploads, or partial data unused "
        "for {} s)",
        *swept, options.partial_expiry.count());
  }
}

void XftpServer::State::report_drops() {
  const std::uint64_t total = extended.drops().total();
  if (total == drops_reported) return;
  spdlog::warn("xftpd: extended-mode datagrams dropped so far: {} ({})", total,
               extended.drops().summary());
  drops_reported = total;
}

void XftpServer::State::arm_drops_timer() {
  drops_timer.emplace(loop, kDropsReportEvery);
  drops_timer->async_wait([this](const std::error_code& e) {
    if (e || stopping.load()) return;
    report_drops();
    arm_drops_timer();
  });
}

void XftpServer::State::arm_sweep_timer() {
  sweep_timer.emplace(loop, kSweepEvery);
  sweep_timer->async_wait([this](const std::error_code& e) {
    if (e || stopping.load()) return;
    ask_sweep();
    arm_sweep_timer();
  });
}

void XftpServer::State::tidy_up() {
  std::list<Transfer> finished;
  {
    std::lock_guard lock(transfers_mu);
    for (auto it = transfers.begin(); it != transfers.end();) {
      auto next = std::next(it);
      if (it->done->load()) finished.splice(finished.end(), transfers, it);
      it = next;
    }
  }
  finished.clear();  // joins (unlocked: each has set `done` as its very last step)
  // What a burst allocated is free now, spread over the heap and every thread's arena: give it
  // back, so that a burst leaves nothing behind.
  if (transfers_running.load() == 0) ::malloc_trim(0);
}

bool XftpServer::State::replace_upload(const std::string& path, const std::string& host) {
  std::shared_future<void> ended;
  {
    std::lock_guard lock(transfers_mu);
    auto it = uploads.find(path);
    if (it == uploads.end() || it->second.host != host) return false;
    it->second.stop->store(true);
    ended = it->second.ended;
  }
  return ended.wait_for(kReplaceWait) == std::future_status::ready;
}

void XftpServer::State::execute(const Job& job) {
  if (job.extended) {
    execute_extended(job);
    return;
  }
  const Datagram& req = job.request;
  const Request& request = job.parsed;
  const bool wants_transfer =
      request.command == Command::upload || request.command == Command::download;
  bool reserved = wants_transfer && reserve_transfer();
  XftpOutcome outcome = handler.execute(request, reserved);
  if (outcome.in_progress && replace_upload(root.display(request.path), job.from.host())) {
    spdlog::info("xftpd: upload {} from {}: replaces the one this host abandoned",
                 printable(request.path), job.from.to_string());
    outcome = handler.execute(request, reserved);
  }
  if (reserved && !outcome.upload && !outcome.download) --transfers_running;
  if (outcome.left_out > 0) {
    spdlog::info("xftpd: LIST {}: {} entries left out to fit a legacy datagram",
                 printable(request.path), outcome.left_out);
  }
  if (outcome.status != Status::ok) {
    log_refusal(job.from, req.command, request.path, status_name(outcome.status));
  } else {
    const auto level =
        request.command == Command::list ? spdlog::level::debug : spdlog::level::info;
    spdlog::log(level, "xftpd: {} {} from {}: OK", command_name(req.command),
                printable(request.path), job.from.to_string());
  }
  if (outcome.upload || outcome.download) {
    auto [reply, start] = prepare(job, std::move(outcome));
    answer(job, reply);
    if (start) start();
    return;
  }
  answer(job, reply_to(req, outcome.status, std::move(outcome.data)));
}

Result<UniqueFd, io::Error> XftpServer::State::data_socket() const {
  io::SocketAddress where = local;
  where.set_port(0);
  if (options.data_port_first != 0) {
    return io::bind_udp_in_range(where, options.data_port_first, options.data_port_last);
  }
  return io::bind_udp(where);
}

std::pair<std::vector<std::uint8_t>, std::function<void()>> XftpServer::State::prepare(
    const Job& job, XftpOutcome outcome) {
  auto fd = data_socket();
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
  auto stop = std::make_shared<std::atomic<bool>>(false);
  auto ended = std::make_shared<std::promise<void>>();
  const std::string path = root.display(job.parsed.path);
  if (outcome.upload) {
    std::lock_guard lock(transfers_mu);
    uploads[path] = {job.from.host(), stop, ended->get_future().share()};
  }
  auto body = [this, from = job.from, id = job.request.id, path, stop,
               sock = std::make_shared<UniqueFd>(std::move(*fd)),
               out = std::make_shared<XftpOutcome>(std::move(outcome))] {
    const int cpus = static_cast<int>(std::max(2U, std::thread::hardware_concurrency()));
    const bool poll = transfers_running.load() <= cpus / 2;
    const StopAndWaitOptions o{
        .idle = options.idle,
        .stop = stop.get(),
        .progress = {},
        .busy_poll = poll ? options.busy_poll : std::chrono::microseconds(0)};
    const std::string shown = printable(path);
    if (out->upload) {
      auto got =
          receive_stop_and_wait(sock->get(), from, *out->upload, encode(upload_ack(id)), {}, o);
      auto committed = got ? out->upload->commit() : storage::Result<void>{};
      if (got && committed) {
        spdlog::info("xftpd: upload {} ({} bytes) from {} done", shown, *got, from.to_string());
      } else {
        out->upload->abort();
        spdlog::warn("xftpd: upload {} from {} abandoned: {}", shown, from.to_string(),
                     printable(got ? committed.error().message() : got.error().message, 400));
      }
    } else {
      auto sent = send_stop_and_wait(sock->get(), from, *out->download, id, 3, o);
      if (sent) {
        spdlog::info("xftpd: download {} ({} bytes) to {} done", shown, *sent, from.to_string());
      } else {
        spdlog::warn("xftpd: download {} to {} abandoned: {}", shown, from.to_string(),
                     printable(sent.error().message, 400));
      }
    }
    out->upload.reset();  // lets go of the file (and of an upload's reserved name)
    out->download.reset();
  };
  const bool upload = static_cast<bool>(outcome.upload);
  auto start = [this, body = std::move(body), stop, ended, path, upload]() mutable {
    start_transfer(std::move(body), stop, ended, path, upload);
  };
  return {std::move(reply), std::move(start)};
}

void XftpServer::State::start_transfer(std::function<void()> body,
                                       std::shared_ptr<std::atomic<bool>> stop,
                                       std::shared_ptr<std::promise<void>> ended, std::string path,
                                       bool upload) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::lock_guard lock(transfers_mu);
  transfers.remove_if([](const Transfer& t) { return t.done->load(); });  // joins finished ones
  transfers.push_back(
      {stop, done, std::jthread([this, done, ended, path, upload, stop, body = std::move(body)] {
         body();
         if (upload) {
           std::lock_guard held(transfers_mu);
           auto it = uploads.find(path);
           if (it != uploads.end() && it->second.stop == stop) uploads.erase(it);
         }
         ended->set_value();
         const bool last = --transfers_running == 0;
         done->store(true);
         if (last) ask_tidy();
       })});
}

// ---- extended mode ----

namespace {

ext::Entry entry_of(std::string name, const storage::FileStat& st) {
  ext::Entry e;
  e.name = std::move(name);
  e.type = st.type == storage::FileType::regular     ? ext::EntryType::file
           : st.type == storage::FileType::directory ? ext::EntryType::directory
                                                     : ext::EntryType::other;
  e.mode = st.mode;
  e.size = st.size;
  e.mtime = st.mtime;
  return e;
}

std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

}  // namespace

std::shared_ptr<const Names> XftpServer::State::cached_listing(const ConnectionKeys& c,
                                                               const std::string& path) {
  std::lock_guard lock(listings_mu);
  for (auto& l : listings) {
    if (l.path == path && l.connection.lock().get() == &c && Clock::now() - l.at < kListingKept) {
      return l.names;
    }
  }
  return nullptr;
}

void XftpServer::State::keep_listing(const std::shared_ptr<ConnectionKeys>& c,
                                     const std::string& path, std::shared_ptr<const Names> names) {
  std::size_t bytes = 0;
  for (const auto& [name, type] : *names) bytes += name.size() + sizeof(Names::value_type);
  if (bytes > kListingBytes / 4) return;  // too large to keep: its pages read it again
  std::lock_guard lock(listings_mu);
  for (auto it = listings.begin(); it != listings.end();) {  // the same one, or one gone stale
    auto next = std::next(it);
    if ((it->path == path && it->connection.lock() == c) || it->connection.expired() ||
        Clock::now() - it->at >= kListingKept) {
      listing_bytes -= it->bytes;
      listings.erase(it);
    }
    it = next;
  }
  while (!listings.empty() &&
         (listings.size() >= kListingsKept || listing_bytes + bytes > kListingBytes)) {
    listing_bytes -= listings.back().bytes;
    listings.pop_back();
  }
  listings.push_front({c, path, Clock::now(), std::move(names), bytes});
  listing_bytes += bytes;
}

void XftpServer::State::execute_extended(const Job& job) {
  const ExtendedRequest& r = *job.extended;
  const auto command = static_cast<ext::Command>(r.request.command);
  auto answer_with = [&](ext::Status status, const ext::ReplyFields& fields = std::monostate{}) {
    send(job.from, extended.reply(r, status, fields));
  };
  auto fields = ext::decode_fields(command, as_bytes(r.request.body));
  if (!fields) return answer_with(ext::Status::invalid);
  auto path_ok = [](const std::string& p) { return acceptable_path(p); };
  switch (command) {
    case ext::Command::list: {
      const auto& a = std::get<ext::ListArgs>(*fields);
      if (!path_ok(a.path)) return answer_with(ext::Status::invalid);
      auto st = root.stat(a.path);
      if (!st)
        return answer_with(
            ext::from_legacy(handler.execute({Command::list, a.path, {}}, false).status));
      if (st->type != storage::FileType::directory) return answer_with(ext::Status::invalid);
      // A listing's later pages come from the names its first page read (kept a while per
      // connection), so paging through N names costs one directory read, not N/page of them.
      auto cached = a.cursor != 0 ? cached_listing(*r.connection, a.path) : nullptr;
      if (!cached) {
        auto entries = root.list(a.path);
        if (!entries) return answer_with(ext::Status::internal_error);
        auto fresh = std::make_shared<Names>();
        for (const auto& e : *entries) {
          if (e.name != "." && e.name != "..") fresh->emplace_back(e.name, e.target);
        }
        std::sort(fresh->begin(), fresh->end());
        cached = fresh;
        keep_listing(r.connection, a.path, std::move(fresh));
      }
      const Names& names = *cached;
      // A page fills one datagram: header, REPLY's 5 bytes, the list's 6, a tag.
      const std::size_t room =
          r.connection->max_datagram - ext::kHeaderSize - 5 - 6 - ext::kTagSize;
      const std::size_t most = a.max_entries == 0 ? names.size() : a.max_entries;
      ext::ListResult page;
      std::size_t used = 0, i = a.cursor;
      for (; i < names.size() && page.entries.size() < most; ++i) {
        const auto& [name, target] = names[i];
        const std::size_t cost = 2 + name.size() + 1 + 4 + 8 + 8;
        if (used + cost > room) break;
        // What the name leads to, as legacy LIST sorts it (a link to a directory is one).
        auto est = root.stat(join(a.path, name), storage::Follow::yes);
        if (!est) est = root.stat(join(a.path, name), storage::Follow::no);
        if (!est) continue;  // gone meanwhile
        used += cost;
        auto entry = entry_of(name, *est);
        if (target == storage::FileType::directory) entry.type = ext::EntryType::directory;
        page.entries.push_back(std::move(entry));
      }
      page.next_cursor = i < names.size() ? static_cast<std::uint32_t>(i) : 0;
      if (page.next_cursor == a.cursor && a.cursor != 0) page.next_cursor = 0;  // a name too long
      return answer_with(ext::Status::ok, page);
    }
    case ext::Command::stat: {
      const auto& a = std::get<ext::PathArgs>(*fields);
      if (!path_ok(a.path)) return answer_with(ext::Status::invalid);
      // What the name leads to, as DOWNLOAD reads it (a dangling link: the link itself).
      auto st = root.stat(a.path, storage::Follow::yes);
      if (!st) st = root.stat(a.path, storage::Follow::no);
      if (!st) {
        return answer_with(st.error().code == storage::Errc::not_found ? ext::Status::not_found
                                                                       : ext::Status::invalid);
      }
      const auto slash = a.path.find_last_of('/');
      return answer_with(
          ext::Status::ok,
          entry_of(slash == std::string::npos ? a.path : a.path.substr(slash + 1), *st));
    }
    case ext::Command::remove:
    case ext::Command::mkdir: {
      const auto& a = std::get<ext::PathArgs>(*fields);
      if (!path_ok(a.path)) return answer_with(ext::Status::invalid);
      const auto c = command == ext::Command::remove ? Command::remove : Command::mkdir;
      const auto o = handler.execute({c, a.path, {}}, false);
      spdlog::info("xftpd: {} {} from {} (extended): {}",
                   command_name(static_cast<std::uint8_t>(c)), printable(a.path),
                   job.from.to_string(), status_name(o.status));
      return answer_with(ext::from_legacy(o.status));
    }
    case ext::Command::move: {
      const auto& a = std::get<ext::MoveArgs>(*fields);
      if (!path_ok(a.from) || !path_ok(a.to)) return answer_with(ext::Status::invalid);
      const auto o = handler.execute({Command::move, a.from, a.to}, false);
      return answer_with(ext::from_legacy(o.status));
    }
    case ext::Command::upload:
    case ext::Command::download:
      break;
  }
  const bool upload = command == ext::Command::upload;
  const std::string path =
      upload ? std::get<ext::UploadArgs>(*fields).path : std::get<ext::DownloadArgs>(*fields).path;
  if (!path_ok(path)) return answer_with(ext::Status::invalid);
  if (upload && std::get<ext::UploadArgs>(*fields).size > storage::kMaxPartialSize) {
    return answer_with(ext::Status::invalid);
  }
  if (!reserve_transfer()) return answer_with(ext::Status::busy, ext::BusyResult{1000});
  // Extended uploads always write partial data kept for resume; without the resume flag what
  // an earlier attempt left is discarded first.
  XftpOutcome outcome = upload ? handler.upload(path, true, true)
                               : handler.execute({Command::download, path, {}}, true);
  if (outcome.in_progress && replace_upload(root.display(path), job.from.host())) {
    outcome = handler.upload(path, true, true);
  }
  if (!outcome.upload && !outcome.download) {
    --transfers_running;
    return answer_with(ext::from_legacy(outcome.status));
  }
  auto fd = data_socket();
  std::optional<io::SocketAddress> bound;
  if (fd) {
    if (auto b = io::SocketAddress::of_local(fd->get())) bound = *b;
  }
  if (!bound) {
    if (outcome.upload) outcome.upload->abort(storage::Partial::keep);
    --transfers_running;
    return answer_with(ext::Status::internal_error);
  }
  const std::uint32_t transfer = static_cast<std::uint32_t>(r.request.id);
  const std::string shown = printable(root.display(path));
  std::uint64_t size = 0;
  RangeSet present;             // what the receiver holds already
  storage::PartialRecord base;  // uploads: the source, and the blocks offered
  if (upload) {
    const auto& a = std::get<ext::UploadArgs>(*fields);
    size = a.size;
    const bool resume = (a.flags & ext::kResumeFlag) != 0;
    auto from = storage::resume_from(*outcome.upload, a.size, a.mtime, a.checksum,
                                     resume ? kMaxOfferedRanges : 0, kVerifyBudget);
    if (!from) {
      outcome.upload->abort(storage::Partial::drop);
      --transfers_running;
      spdlog::warn("xftpd: upload {} from {}: its partial data: {}", shown, job.from.to_string(),
                   printable(from.error().message(), 400));
      return answer_with(ext::Status::internal_error);
    }
    ext::UploadResult reply{transfer, bound->port(), {}, from->verified.range_sums};
    for (const auto& range : from->verified.ranges) {
      reply.present.push_back({range.first, range.last});
      present.add(range.first, range.last);
    }
    if (!from->verified.ranges.empty() || from->verified.bad_blocks > 0) {
      spdlog::info(
          "xftpd: upload {} from {} resumes: {} bytes present and verified, {} blocks failed "
          "their check and are sent again",
          shown, job.from.to_string(), from->verified.bytes(), from->verified.bad_blocks);
    } else if (from->had_partial) {
      spdlog::info("xftpd: upload {} from {} starts over: {}", shown, job.from.to_string(),
                   printable(from->why, 400));
    }
    base = std::move(from->base);
    answer_with(ext::Status::ok, reply);
  } else {
    auto st = outcome.download->size();
    size = st ? *st : 0;
    std::int64_t mtime = 0;
    if (auto s2 = root.stat(path)) mtime = s2->mtime;
    // What the client holds: it checked it against its own record before offering.
    for (const auto& range : std::get<ext::DownloadArgs>(*fields).present) {
      if (range.first < range.last && range.last <= size) present.add(range.first, range.last);
    }
    answer_with(ext::Status::ok, ext::DownloadResult{transfer, bound->port(), size, mtime, {}});
  }
  auto stop = std::make_shared<std::atomic<bool>>(false);
  auto ended = std::make_shared<std::promise<void>>();
  if (upload) {
    std::lock_guard lock(transfers_mu);
    uploads[root.display(path)] = {job.from.host(), stop, ended->get_future().share()};
  }
  auto body = [this, from = job.from, keys = r.connection, stop, shown, size, transfer, upload,
               present = std::move(present), base = std::move(base),
               sock = std::make_shared<UniqueFd>(std::move(*fd)),
               out = std::make_shared<XftpOutcome>(std::move(outcome))] {
    ExtendedTransferOptions o;
    o.stop = stop.get();
    DropCounts dropped;  // this transfer's, logged with it
    o.drops = &dropped;
    const auto framing = keys->framing();
    const std::size_t payload =
        keys->max_datagram - ext::kDataOverhead - (keys->to_client ? ext::kTagSize : 0);
    const std::uint64_t had = present.count();
    if (upload) {
      ReceiverConfig rc;
      rc.transfer = transfer;
      rc.idle_timeout = options.idle;
      TransferReceiver core(rc, size, present);
      storage::AtomicWriter& writer = *out->upload;
      bool told = false;  // one warning per transfer (a full disk fails every checkpoint)
      o.checkpoint = [&](const std::map<std::uint64_t, std::uint64_t>& blocks) {
        if (auto saved = storage::save_checkpoint(writer, base, blocks); !saved && !told) {
          told = true;
          spdlog::warn("xftpd: upload {}: saving what arrived, for a resume: {}", shown,
                       printable(saved.error().message(), 400));
        }
      };
      auto got = receive_extended(
          sock->get(), from, writer.file(), core, framing,
          [&] { return static_cast<bool>(writer.commit()); }, o);
      const std::uint64_t received = core.present().count() - had;
      if (got && *got == ext::EndStatus::in_place) {
        spdlog::info(
            "xftpd: upload {} ({} bytes) from {} done (extended): {} bytes received, {} "
            "were there already",
            shown, size, from.to_string(), received, had);
      } else {
        // A mismatch means what was kept cannot be trusted: it goes. Otherwise it stays, with
        // its record, for the client's next attempt.
        const bool mismatch = got && *got == ext::EndStatus::checksum_mismatch;
        writer.abort(mismatch ? storage::Partial::drop : storage::Partial::keep);
        spdlog::warn("xftpd: upload {} from {} abandoned after {} bytes received: {}", shown,
                     from.to_string(), received,
                     got ? (mismatch ? "checksum mismatch" : "failed")
                         : printable(got.error().message, 400));
      }
    } else {
      auto sum = whole_file_checksum(*out->download);
      if (!sum) {  // the client is told at once
        auto f = framing;
        (void)io::send_to(
            sock->get(),
            as_bytes(frame(f, ext::Type::abort, ext::Abort{transfer, sum.error().message})), from);
      }
      SenderConfig sc;
      sc.transfer = transfer;
      sc.payload_bytes = payload;
      sc.idle_timeout = options.idle;
      TransferSender core(sc, size, sum ? *sum : ext::Checksum{}, present);
      auto sent = sum ? send_extended(sock->get(), from, *out->download, core, framing, o)
                      : Result<ext::EndStatus, TransferError>(Unexpected(sum.error()));
      if (sent && *sent == ext::EndStatus::in_place) {
        spdlog::info(
            "xftpd: download {} ({} bytes) to {} done (extended): {} bytes sent, {} "
            "were there already",
            shown, size, from.to_string(), core.stats().fresh_bytes, had);
      } else {
        spdlog::warn(
            "xftpd: download {} to {} abandoned: {}", shown, from.to_string(),
            sent ? "the client did not put it in place" : printable(sent.error().message, 400));
      }
    }
    if (dropped.total() > 0) {
      spdlog::warn("xftpd: {} {} with {}: dropped {} datagrams: {}", upload ? "upload" : "download",
                   shown, from.to_string(), dropped.total(), dropped.summary());
      dropped.add_to(extended.drops());
    }
    out->upload.reset();
    out->download.reset();
  };
  start_transfer(std::move(body), stop, ended, root.display(path), upload);
}

}  // namespace ferry::session
