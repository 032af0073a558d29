#include "session/bbftp/sums_ahead.hpp"

#include <sys/resource.h>
#include <sys/sysinfo.h>

#include <algorithm>

#include "core/bulk_buffer.hpp"

namespace ferry::session {
namespace {

// Read and hashed in pieces that stay in a core's L2 cache between the copy and the hash.
constexpr std::size_t kPiece = 256 << 10;

}  // namespace

SumsAhead::SumsAhead(const storage::File& file, storage::Digest digest, std::uint64_t block,
                     std::uint64_t file_size, std::vector<std::uint64_t> order,
                     std::uint64_t window)
    : file_(file),
      digest_(digest),
      block_(block),
      file_size_(file_size),
      order_(std::move(order)),
      window_(window),
      state_(block == 0 ? 0 : static_cast<std::size_t>((file_size + block - 1) / block),
             State::waiting),
      sums_(state_.size()) {
  hasher_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
}

SumsAhead::~SumsAhead() {
  hasher_.request_stop();
  if (hasher_.joinable()) hasher_.join();
}

std::uint64_t SumsAhead::length_of(std::uint64_t index) const noexcept {
  const std::uint64_t at = index * block_;
  return std::min(block_, file_size_ - at);
}

std::optional<std::vector<std::uint8_t>> SumsAhead::take(std::uint64_t index) {
  std::unique_lock lock(mu_);
  if (index >= state_.size()) return std::nullopt;
  const State was = state_[index];  // hashing: the hasher finds out after its piece, and drops it
  state_[index] = State::taken;
  if (was != State::ready) return std::nullopt;
  std::vector<std::uint8_t> sum = std::move(sums_[index]);
  sums_[index] = {};
  ahead_ -= length_of(index);
  if (!ended_ && ahead_ < window_) idle_ = false;  // the hasher has room again
  changed_.notify_all();
  return sum;
}

void SumsAhead::wait_idle() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return idle_; });
}

void SumsAhead::run(const std::stop_token& stop) {
  std::optional<std::uint64_t> current;
  // Gives a block back undone (the hasher stops): the stream that gets to it hashes it itself.
  auto give_back = [&] {
    std::lock_guard lock(mu_);
    if (current && state_[*current] == State::hashing) state_[*current] = State::waiting;
    idle_ = ended_ = true;
    changed_.notify_all();
  };
  struct Ended {  // however the hasher ends
    decltype(give_back)& f;
    ~Ended() { f(); }
  } ended{give_back};
  // The hasher yields to the streams: it only saves them work when it runs on a core they leave
  // idle (a stream that overtakes it hashes the block itself). On Linux this call sets the nice
  // value of the calling thread alone; failing, it changes nothing.
  (void)::setpriority(PRIO_PROCESS, 0, kHasherNice);
  try {
    BulkBuffer buf(kPiece);
    storage::Hasher hasher(digest_);
    for (const std::uint64_t index : order_) {
      if (index >= state_.size()) continue;
      const std::uint64_t length = length_of(index);
      {
        std::unique_lock lock(mu_);
        if (ahead_ >= window_) {
          idle_ = true;
          changed_.notify_all();
        }
        if (!changed_.wait(lock, stop, [&] { return ahead_ < window_; })) return;
        idle_ = false;
        if (state_[index] != State::waiting) continue;  // a stream got there first
        state_[index] = State::hashing;
        current = index;
      }
      // Whether a stream took the block meanwhile (it hashes the block itself).
      auto taken = [&] {
        std::lock_guard lock(mu_);
        return state_[index] != State::hashing;
      };
      bool dropped = false;
      for (std::uint64_t done = 0; done < length;) {
        if (stop.stop_requested()) return;
        if (done > 0 && taken()) {
          dropped = true;
          break;
        }
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kPiece, length - done));
        // A file cut short, or unreadable: the streams find out for themselves.
        if (!file_.pread_exact({buf.data(), n}, index * block_ + done)) return;
        hasher.update(Bytes(buf.data(), n));
        done += n;
      }
      auto sum = hasher.finish();  // also readies the hasher for the next block
      std::lock_guard lock(mu_);
      current.reset();
      if (dropped || state_[index] != State::hashing) continue;
      sums_[index] = std::move(sum);
      state_[index] = State::ready;
      ahead_ += length;
      changed_.notify_all();
    }
  } catch (const std::exception&) {  // out of memory: the streams hash what is left
  }
}

std::uint64_t SumsAhead::default_window() {
  constexpr std::uint64_t kLeast = 64ULL << 20, kMost = 2ULL << 30;
  struct sysinfo si {};
  if (::sysinfo(&si) != 0) return kLeast;
  const std::uint64_t memory = static_cast<std::uint64_t>(si.totalram) * si.mem_unit;
  return std::clamp(memory / 16, kLeast, kMost);
}

std::vector<std::uint64_t> sending_order(const bbftp::TransferPlan& plan) {
  std::vector<std::uint64_t> order;
  std::size_t longest = 0;
  for (const auto& s : plan.blocks) {
    longest = std::max(longest, s.size());
    order.reserve(order.size() + s.size());
  }
  for (std::size_t k = 0; k < longest; ++k) {
    for (const auto& s : plan.blocks) {
      if (k < s.size()) order.push_back(s[k]);
    }
  }
  return order;
}

}  // namespace ferry::session
