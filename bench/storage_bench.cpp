// Storage layer micro-benchmarks: checksum throughput and the parallel atomic write path that
// every receiving data stream uses. Run from bench/storage.sh, which also measures `cp`.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "storage/checksum.hpp"
#include "storage/sandbox.hpp"

namespace {

using ferry::storage::Digest;

void BM_Checksum(benchmark::State& state, Digest digest) {
  std::vector<std::byte> buf(1 << 20, std::byte{0x5a});
  ferry::storage::Hasher h(digest);
  for (auto _ : state) {
    h.update(buf);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(h.finish_hex());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(buf.size()));
}
BENCHMARK_CAPTURE(BM_Checksum, xxh3_128, Digest::xxh3_128);
BENCHMARK_CAPTURE(BM_Checksum, sha256, Digest::sha256);

// Writes `size` bytes with `streams` threads into one preallocated AtomicWriter and commits.
void BM_ParallelWrite(benchmark::State& state) {
  const char* dir = std::getenv("FERRY_BENCH_DIR");
  auto sb = ferry::storage::Sandbox::confined(dir != nullptr ? dir : "/dev/shm");
  if (!sb) {
    state.SkipWithError(sb.error().message().c_str());
    return;
  }
  const int streams = static_cast<int>(state.range(0));
  const std::uint64_t size = static_cast<std::uint64_t>(state.range(1)) << 20;
  const std::string name = "ferry-bench-" + std::to_string(::getpid());
  for (auto _ : state) {
    auto w = sb->create(name, {.preallocate = size});
    if (!w) {
      state.SkipWithError(w.error().message().c_str());
      return;
    }
    std::vector<std::thread> threads;
    for (int s = 0; s < streams; ++s) {
      threads.emplace_back([&, s] {
        std::vector<std::byte> buf(1 << 20, std::byte(s));
        const std::uint64_t part = size / static_cast<std::uint64_t>(streams);
        const std::uint64_t begin = part * static_cast<std::uint64_t>(s);
        for (std::uint64_t off = begin; off < begin + part; off += buf.size()) {
          (void)w->pwrite_all(buf, off);
        }
      });
    }
    for (auto& t : threads) t.join();
    if (!w->commit()) state.SkipWithError("commit failed");
  }
  (void)sb->unlink(name);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(size));
}
BENCHMARK(BM_ParallelWrite)
    ->Args({1, 1024})
    ->Args({4, 1024})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
