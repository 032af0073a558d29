// The extension's block sums, computed ahead of the checked streams that send them.
//
// A protocol 3 sender hands page-cache pages to the socket untouched (sendfile); a checked sender
// must read every byte once to hash it, and on a machine whose CPUs are busy that read is the
// whole of what integrity costs (docs/performance.md). Much of it can be done while the sender
// would only wait: for the daemon's answer to a put (it preallocates the file first), for the
// client to preallocate a get, for the data connections and their proofs. SumsAhead hashes the
// blocks on a thread of its own from the moment the file is open, in the order the streams will
// reach them, at most `window` bytes ahead of them (what it read must still be in the page cache
// when they send it). A stream whose next block is hashed already sends it with sendfile; one
// that gets to a block first hashes it itself as before, and the hasher skips it. A stream never
// waits for the hasher: the hasher runs at the lowest priority (it only helps on a core the
// streams leave idle), so a block it is partway through becomes the stream's, and the hasher
// drops what it read of it.
//
// A block that changes between its hashing and its sending arrives with a sum it does not match,
// is asked for again, read again and found different: "changed while being sent", as when it
// changes between two sends (streams.hpp).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "proto/bbftp/transfer_plan.hpp"
#include "storage/checksum.hpp"
#include "storage/file.hpp"

namespace ferry::session {

// The hasher's nice value (and the only one the daemon's session filter lets a thread set).
inline constexpr int kHasherNice = 19;

class SumsAhead {
 public:
  // Hashes the blocks `order` (indexes of `block`-byte blocks of a `file_size`-byte file) of
  // `file`, which must outlive this object.
  SumsAhead(const storage::File& file, storage::Digest digest, std::uint64_t block,
            std::uint64_t file_size, std::vector<std::uint64_t> order, std::uint64_t window);
  SumsAhead(const SumsAhead&) = delete;
  SumsAhead& operator=(const SumsAhead&) = delete;
  ~SumsAhead();  // stops the hasher and waits for it

  // Block `index` is the caller's from now: its sum when the hasher has it, nothing when the
  // hasher has not finished it (and then never will).
  std::optional<std::vector<std::uint8_t>> take(std::uint64_t index);
  // Waits until the hasher has gone as far as it will without a take() (tests, benches).
  void wait_idle();

  // How far ahead of the streams the hasher may read: a sixteenth of the machine's memory,
  // between 64 MiB and 2 GiB, so that what it read stays in the page cache until it is sent.
  static std::uint64_t default_window();

 private:
  enum class State : std::uint8_t { waiting, hashing, ready, taken };
  void run(const std::stop_token& stop);
  std::uint64_t length_of(std::uint64_t index) const noexcept;

  const storage::File& file_;
  const storage::Digest digest_;
  const std::uint64_t block_;
  const std::uint64_t file_size_;
  const std::vector<std::uint64_t> order_;
  const std::uint64_t window_;

  std::mutex mu_;
  std::condition_variable_any changed_;
  std::vector<State> state_;  // by block index
  std::vector<std::vector<std::uint8_t>> sums_;
  std::uint64_t ahead_ = 0;  // bytes hashed and not yet taken
  bool idle_ = false;        // the hasher waits for room, or has ended
  bool ended_ = false;
  std::jthread hasher_;  // last: it starts once the rest is built
};

// The blocks of `plan` (plan_blocks) in the order its streams reach them: each stream's first,
// then each one's second, and so on.
std::vector<std::uint64_t> sending_order(const bbftp::TransferPlan& plan);

}  // namespace ferry::session
