// A heap buffer for the data paths' bulk reads and writes, placed where the kernel copies into
// and out of it at full speed: half a page past a page boundary.
//
// Why not std::vector: the kernel copies file and socket data with `rep movsb`, and on AMD Zen
// (this machine's EPYC) that copy runs 3-4 times slower when the destination lies 1 to 31 bytes
// past the source modulo 4096, and about 1.4 times slower when both share their offset in the
// page. glibc serves large allocations from mmap behind a 16-byte header, so a vector's data sits
// 16 bytes past a page boundary: a pread of page-aligned file offsets into it lands in the slow
// window. Measured here, 256 MiB read from tmpfs in 1 MiB preads, by the destination's offset in
// its page: 0: 68-73 ms; 1-31: 130-231 ms; 32-4088: 39-57 ms (writes mirror it: slow when the
// source sits 1-31 bytes before a page's end). Half a page keeps both directions far from both
// edges for file offsets that are multiples of a page, as blocks are; other offsets land in the
// slow window as rarely as with any other placement (31 in 4096; docs/performance.md). The
// contents start uninitialised.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <span>
#include <utility>

namespace ferry {

class BulkBuffer {
 public:
  static constexpr std::size_t kPage = 4096;
  static constexpr std::size_t kOffset = kPage / 2;  // into the first page

  BulkBuffer() = default;
  explicit BulkBuffer(std::size_t size)
      : base_(size == 0 ? nullptr
                        : static_cast<std::byte*>(
                              ::operator new (size + kPage, std::align_val_t{kPage}))),
        size_(size) {}
  BulkBuffer(BulkBuffer&& other) noexcept
      : base_(std::move(other.base_)), size_(std::exchange(other.size_, 0)) {}
  BulkBuffer& operator=(BulkBuffer&& other) noexcept {
    base_ = std::move(other.base_);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }

  std::byte* data() noexcept { return base_ ? base_.get() + kOffset : nullptr; }
  const std::byte* data() const noexcept { return base_ ? base_.get() + kOffset : nullptr; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::span<std::byte> span() noexcept { return {data(), size_}; }
  std::span<const std::byte> span() const noexcept { return {data(), size_}; }

 private:
  struct Free {
    void operator()(std::byte* p) const noexcept { ::operator delete (p, std::align_val_t{kPage}); }
  };
  std::unique_ptr<std::byte, Free> base_;
  std::size_t size_ = 0;
};

}  // namespace ferry
