// What the bbftp extension's integrity costs on the data streams, without the rest of a session:
// a file moved over loopback TCP by the streams layer (session/bbftp/streams.hpp) over S streams
// laid out as a session lays them (plan_transfer, plan_blocks), one connection and one thread per
// stream on each side (bbftp -p S), raw (protocol 3) and checked (integrity blocks, 1 MiB up to
// 64 GiB, each with its XXH3-64 sum), in alternating runs. It
// prints the medians of the sending and the receiving threads' CPU time and of the wall clock,
// and their ratios.
//
// By default the receiver writes into a file whose pages already exist (each run overwrites the
// last one's). On a virtual machine whose balloon reports free pages to its host, the first
// write into a new page costs a host fault, and that noise (docs/performance.md) would swamp the
// difference; `fresh` truncates and preallocates the destination before every run, as a real
// receiver does.
// `ahead`: the checked sender's sums are hashed before the clock starts (sums_ahead.hpp), as a
// session's are while it waits for the receiver, and the sender sends from the page cache.
// Usage: bench_bbftp_streams [MIB [RUNS [STREAMS [fresh] [ahead]]]]   (defaults 512, 9, 1; in
// /dev/shm, or $FERRY_BENCH_DIR)
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "proto/bbftp/extension.hpp"
#include "proto/bbftp/transfer_plan.hpp"
#include "session/bbftp/streams.hpp"
#include "session/bbftp/sums_ahead.hpp"

namespace {

using ferry::UniqueFd;
using ferry::session::StreamSpec;
namespace storage = ferry::storage;

bool fresh_pages = false;
bool sums_ahead = false;

double thread_cpu() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}
double wall() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_bbftp_streams: %s\n", what.c_str());
  std::exit(1);
}

// A connected loopback TCP pair, {sender, receiver}, made as a session makes its data sockets
// (no TCP_NODELAY, default buffers).
std::pair<UniqueFd, UniqueFd> tcp_pair() {
  namespace io = ferry::io;
  const auto at = io::resolve("127.0.0.1", 0, true);
  if (!at) die(at.error().message());
  auto l = io::listen_tcp(at->front(), 1);
  if (!l) die(l.error().message());
  auto local = io::SocketAddress::of_local(l->get());
  if (!local) die(local.error().message());
  auto s = io::connect_tcp(*local, std::chrono::seconds(5));
  if (!s) die(s.error().message());
  auto r = io::accept_tcp(l->get(), std::chrono::seconds(5));
  if (!r) die(r.error().message());
  return {std::move(*s), std::move(*r)};
}

storage::File open_file(const std::string& path, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC, 0600));
  if (!fd.valid()) die("open " + path);
  return storage::File(std::move(fd), path);
}

struct Run {
  double sender_cpu, receiver_cpu, wall;  // CPU: summed over the streams' threads
};

// Moves the file in `streams` contiguous segments, one loopback connection and one thread per
// stream on each side, as bbftp -p does.
Run move_once(const storage::File& src, const storage::File& dst, std::uint64_t size, int streams,
              bool checked) {
  if (fresh_pages &&
      (::ftruncate(dst.fd(), 0) != 0 || ::fallocate(dst.fd(), 0, 0, static_cast<off_t>(size)) != 0))
    die("fallocate the destination");
  // Laid over the streams as a session lays it: segments, and for the extension its blocks.
  auto plan = ferry::bbftp::plan_transfer(size, streams, 256, 0);
  if (checked) ferry::bbftp::plan_blocks(plan, ferry::bbftp::ext::integrity_block(size));
  const std::size_t n = plan.segments.size();
  std::vector<std::vector<std::uint8_t>> sent_sums, got_sums;
  std::vector<StreamSpec> specs(n);
  for (std::size_t i = 0; i < n; ++i) {
    StreamSpec& spec = specs[i];
    spec.offset = plan.segments[i].offset;
    spec.length = plan.segments[i].length;
    spec.block_size = plan.block_bytes;
    if (checked) {
      // Every field given: clang 14 cannot default-construct the nested Check here.
      spec.check = StreamSpec::Check{ferry::storage::Digest::xxh3_64,
                                     plan.integrity_block,
                                     size,
                                     plan.blocks[i],
                                     nullptr,
                                     nullptr,
                                     {},
                                     nullptr};
    }
  }
  if (checked) {
    sent_sums.resize((size + plan.integrity_block - 1) / plan.integrity_block);
    got_sums.resize(sent_sums.size());
  }
  std::vector<std::pair<UniqueFd, UniqueFd>> socks;
  for (std::size_t i = 0; i < n; ++i) socks.push_back(tcp_pair());
  std::vector<double> sender_cpu(n), receiver_cpu(n);
  // `ahead`: the sender's sums hashed before the clock starts, as a session's are while the
  // receiver preallocates.
  std::optional<ferry::session::SumsAhead> ahead;
  if (checked && sums_ahead) {
    ahead.emplace(src, ferry::storage::Digest::xxh3_64, plan.integrity_block, size,
                  ferry::session::sending_order(plan), ferry::session::SumsAhead::default_window());
    ahead->wait_idle();
    for (auto& spec : specs) spec.check->ahead = &*ahead;
  }
  std::vector<std::thread> threads;
  // One side of stream i on its own thread, its CPU time kept.
  const auto side = [&](std::size_t i, bool receive) {
    StreamSpec spec = specs[i];
    if (spec.check) spec.check->sums = receive ? &got_sums : &sent_sums;
    const double c0 = thread_cpu();
    auto done = receive ? ferry::session::receive_segment(socks[i].second.get(), dst, spec)
                        : ferry::session::send_segment(socks[i].first.get(), src, spec);
    if (!done) die(done.error().message);
    (receive ? receiver_cpu : sender_cpu)[i] = thread_cpu() - c0;
  };
  const double w0 = wall();
  for (std::size_t i = 0; i < n; ++i) {
    threads.emplace_back(side, i, true);
    threads.emplace_back(side, i, false);
  }
  for (auto& t : threads) t.join();
  Run out{0, 0, wall() - w0};
  for (std::size_t i = 0; i < n; ++i) {
    out.sender_cpu += sender_cpu[i];
    out.receiver_cpu += receiver_cpu[i];
  }
  if (sent_sums != got_sums) die("the block sums differ");
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 512;
  const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 9;
  const int streams = argc > 3 ? std::clamp(std::atoi(argv[3]), 1, 64) : 1;
  for (int i = 4; i < argc; ++i) {
    fresh_pages = fresh_pages || std::string(argv[i]) == "fresh";
    sums_ahead = sums_ahead || std::string(argv[i]) == "ahead";
  }
  const char* env_dir = std::getenv("FERRY_BENCH_DIR");
  const std::string dir = env_dir != nullptr ? env_dir : "/dev/shm";
  const std::uint64_t size = mib << 20;
  if (size == 0) die("usage: bench_bbftp_streams [MIB [RUNS [STREAMS [fresh] [ahead]]]]");
  const std::string src_path = dir + "/ferry-streams-src." + std::to_string(::getpid());
  const std::string dst_path = dir + "/ferry-streams-dst." + std::to_string(::getpid());
  {
    auto src = open_file(src_path, O_RDWR | O_CREAT | O_TRUNC);
    std::mt19937_64 rng(42);
    std::vector<std::uint64_t> chunk((4 << 20) / 8);
    for (std::uint64_t at = 0; at < size; at += 4 << 20) {
      for (auto& x : chunk) x = rng();
      const auto n = std::min<std::uint64_t>(4 << 20, size - at);
      if (!src.pwrite_all({reinterpret_cast<const std::byte*>(chunk.data()), n}, at))
        die("write " + src_path);
    }
  }
  auto src = open_file(src_path, O_RDONLY);
  auto dst = open_file(dst_path, O_RDWR | O_CREAT | O_TRUNC);
  ::unlink(src_path.c_str());
  ::unlink(dst_path.c_str());
  move_once(src, dst, size, streams, false);  // the destination's pages, once
  std::vector<double> rs, rr, rw, cs, cr, cw;
  for (int i = 0; i < runs; ++i) {
    // ABBA: neither variant always inherits the state the other left behind.
    for (const bool checked : i % 2 ? std::vector{true, false} : std::vector{false, true}) {
      const Run r = move_once(src, dst, size, streams, checked);
      (checked ? cs : rs).push_back(r.sender_cpu);
      (checked ? cr : rr).push_back(r.receiver_cpu);
      (checked ? cw : rw).push_back(r.wall);
    }
  }
  std::printf(
      "%llu MiB over loopback TCP, %d stream(s), %s destination pages, medians of %d "
      "alternating runs (seconds)\n",
      static_cast<unsigned long long>(mib), streams, fresh_pages ? "fresh" : "reused", runs);
  std::printf("%-10s %12s %12s %12s\n", "", "sender cpu", "receiver cpu", "wall");
  std::printf("%-10s %12.3f %12.3f %12.3f\n", "raw (p3)", median(rs), median(rr), median(rw));
  std::printf("%-10s %12.3f %12.3f %12.3f\n", "checked", median(cs), median(cr), median(cw));
  std::printf("%-10s %12.3f %12.3f %12.3f\n", "ratio", median(cs) / median(rs),
              median(cr) / median(rr), median(cw) / median(rw));
}
