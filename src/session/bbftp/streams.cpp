#include "session/bbftp/streams.hpp"

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "core/bulk_buffer.hpp"
#include "proto/bbftp/codec.hpp"
#include "proto/bbftp/extension.hpp"
#include "session/bbftp/sums_ahead.hpp"

namespace ferry::session {
namespace {

constexpr std::size_t kRawChunk = 4 << 20;  // read/write granularity of raw streams

Unexpected<StreamError> from_io(const io::Error& e) {
  return Unexpected(StreamError{e.sys_errno, e.message()});
}
Unexpected<StreamError> from_storage(const storage::Error& e) {
  return Unexpected(StreamError{e.sys_errno, e.message()});
}

void count(const StreamSpec& spec, std::uint64_t bytes) {
  if (spec.moved != nullptr) spec.moved->fetch_add(bytes, std::memory_order_relaxed);
}

StreamResult<void> wait_ack(int sock, io::Timeout timeout) {
  std::byte b[bbftp::kHeaderSize];
  if (auto r = io::read_exact(sock, b, timeout); !r) return from_io(r.error());
  const auto h = bbftp::decode_header(b);
  if (h.code != static_cast<std::uint32_t>(bbftp::MsgCode::ack)) {
    return Unexpected(StreamError{EPROTO, "data stream: expected MSG_ACK"});
  }
  return {};
}

StreamResult<void> send_ack(int sock, io::Timeout timeout) {
  std::byte b[bbftp::kHeaderSize];
  bbftp::encode_header({static_cast<std::uint32_t>(bbftp::MsgCode::ack), 0}, b);
  if (auto r = io::write_all(sock, b, timeout); !r) return from_io(r.error());
  return {};
}

// Sends bytes [offset, offset + length) of `file` with sendfile: the kernel moves page-cache
// pages straight to the socket. `sent` is told each piece's size; false when the file ended
// before `length` (the caller says how).
template <class Sent>
StreamResult<bool> send_file_range(int sock, const storage::File& file, std::uint64_t offset,
                                   std::uint64_t length, io::Timeout timeout, Sent sent) {
  auto at = static_cast<off_t>(offset);
  std::uint64_t left = length;
  while (left > 0) {
    const ssize_t n = ::sendfile(sock, file.fd(), &at, std::min<std::uint64_t>(left, kRawChunk));
    if (n > 0) {
      left -= static_cast<std::uint64_t>(n);
      sent(static_cast<std::uint64_t>(n));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      if (auto w = io::wait_writable(sock, timeout); !w) return from_io(w.error());
      continue;
    }
    return Unexpected(StreamError{errno, "data stream: send failed"});
  }
  return true;
}

StreamResult<void> send_raw(int sock, const storage::File& file, const StreamSpec& spec) {
  auto whole = send_file_range(sock, file, spec.offset, spec.length, spec.data_timeout,
                               [&](std::uint64_t n) { count(spec, n); });
  if (!whole) return Unexpected(whole.error());
  if (!*whole) return Unexpected(StreamError{EIO, file.path() + ": file shrank while sending"});
  return {};
}

// Writes `data` with MSG_MORE: the kernel holds it for what follows at once, so that a block's
// sum rides with the next block's bytes instead of going out as a segment of its own.
StreamResult<void> write_more(int sock, Bytes data, io::Timeout timeout) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(sock, data.data() + done, data.size() - done,
                             MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      if (auto w = io::wait_writable(sock, timeout); !w) return from_io(w.error());
      continue;
    }
    return Unexpected(StreamError{errno, "data stream: send failed"});
  }
  return {};
}

StreamResult<void> send_compressed(int sock, const storage::File& file, const StreamSpec& spec) {
  BulkBuffer raw(spec.block_size);
  std::vector<std::byte> packed(compressBound(static_cast<uLong>(spec.block_size)) +
                                bbftp::kHeaderSize);
  std::uint64_t done = 0;
  while (done < spec.length) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(spec.block_size, spec.length - done));
    if (auto r = file.pread_exact({raw.data(), n}, spec.offset + done); !r) {
      return from_storage(r.error());
    }
    uLongf out_len = static_cast<uLongf>(packed.size() - bbftp::kHeaderSize);
    const int zr = compress(reinterpret_cast<Bytef*>(packed.data() + bbftp::kHeaderSize), &out_len,
                            reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(n));
    std::span<const std::byte> body;
    bbftp::BlockHeader h;
    // A block that does not shrink (or would not fit the receiver's buffer) goes raw.
    if (zr == Z_OK && out_len < n) {
      h = {bbftp::kDataCompressed, static_cast<std::uint32_t>(out_len)};
      body = {packed.data() + bbftp::kHeaderSize, out_len};
    } else {
      h = {bbftp::kDataRaw, static_cast<std::uint32_t>(n)};
      body = {raw.data(), n};
    }
    std::byte head[bbftp::kHeaderSize];
    bbftp::encode_block_header(h, head);
    if (auto r = io::write_all(sock, head, spec.data_timeout); !r) return from_io(r.error());
    if (auto r = io::write_all(sock, body, spec.data_timeout); !r) return from_io(r.error());
    done += n;
    count(spec, n);
  }
  return {};
}

StreamResult<void> receive_raw(int sock, const storage::File& file, const StreamSpec& spec) {
  BulkBuffer buf(std::min<std::uint64_t>(std::max<std::size_t>(spec.block_size, kRawChunk),
                                         std::max<std::uint64_t>(spec.length, 1)));
  std::uint64_t done = 0;
  while (done < spec.length) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), spec.length - done));
    auto n = io::read_some(sock, {buf.data(), want}, spec.data_timeout);
    if (!n) return from_io(n.error());
    if (auto w = file.pwrite_all({buf.data(), *n}, spec.offset + done); !w) {
      return from_storage(w.error());
    }
    done += *n;
    count(spec, *n);
  }
  return {};
}

StreamResult<void> receive_compressed(int sock, const storage::File& file, const StreamSpec& spec) {
  const std::size_t max_packed = compressBound(static_cast<uLong>(spec.block_size));
  std::vector<std::byte> packed(max_packed);
  BulkBuffer raw(spec.block_size);
  std::uint64_t done = 0;
  while (done < spec.length) {
    std::byte head[bbftp::kHeaderSize];
    if (auto r = io::read_exact(sock, head, spec.data_timeout); !r) return from_io(r.error());
    const auto h = bbftp::decode_block_header(head);
    const std::uint64_t left = spec.length - done;
    if (h.datalen == 0 || h.datalen > max_packed) {
      return Unexpected(StreamError{EILSEQ, "data stream: bad block length"});
    }
    if (auto r = io::read_exact(sock, {packed.data(), h.datalen}, spec.data_timeout); !r) {
      return from_io(r.error());
    }
    std::span<const std::byte> data;
    if (h.code == bbftp::kDataCompressed) {
      uLongf out_len = static_cast<uLongf>(raw.size());
      if (uncompress(reinterpret_cast<Bytef*>(raw.data()), &out_len,
                     reinterpret_cast<const Bytef*>(packed.data()), h.datalen) != Z_OK) {
        return Unexpected(StreamError{EILSEQ, "data stream: corrupt compressed block"});
      }
      data = {raw.data(), out_len};
    } else {
      data = {packed.data(), h.datalen};
    }
    if (data.size() > left) {
      return Unexpected(StreamError{EILSEQ, "data stream: more data than the segment holds"});
    }
    if (auto w = file.pwrite_all(data, spec.offset + done); !w) return from_storage(w.error());
    done += data.size();
    count(spec, data.size());
  }
  return {};
}

// --- the extension's checked segments --------------------------------------------------

struct BlockSpan {
  std::uint64_t offset = 0;  // in the file
  std::size_t length = 0;
};
// The stream's j-th block (its index in the file is check->blocks[j]).
BlockSpan block_span(const StreamSpec& spec, std::uint64_t j) {
  const auto& c = *spec.check;
  const std::uint64_t at = c.blocks[j] * c.block;
  return {at, static_cast<std::size_t>(std::min(c.block, c.file_size - at))};
}
std::uint64_t block_count(const StreamSpec& spec) {
  return spec.check->blocks.size();
}
// A plan whose blocks do not lie within the file (a bug: both sides plan alike).
bool blocks_fit(const StreamSpec& spec) {
  const auto& c = *spec.check;
  if (c.block == 0) return c.blocks.empty();
  for (const auto b : c.blocks) {
    if (b >= (c.file_size + c.block - 1) / c.block) return false;
    if (c.sums != nullptr && b >= c.sums->size()) return false;
  }
  return true;
}

// One block's bytes on the wire: raw, or zlib blocks of at most the transfer's block size.
StreamResult<void> write_block_data(int sock, std::span<const std::byte> data,
                                    const StreamSpec& spec, std::vector<std::byte>& packed) {
  if (!spec.compressed) {
    if (auto r = io::write_all(sock, data, spec.data_timeout); !r) return from_io(r.error());
    return {};
  }
  for (std::size_t at = 0; at < data.size(); at += spec.block_size) {
    const std::size_t n = std::min(spec.block_size, data.size() - at);
    uLongf out_len = static_cast<uLongf>(packed.size());
    const int zr =
        compress(reinterpret_cast<Bytef*>(packed.data()), &out_len,
                 reinterpret_cast<const Bytef*>(data.data() + at), static_cast<uLong>(n));
    bbftp::BlockHeader h{bbftp::kDataRaw, static_cast<std::uint32_t>(n)};
    std::span<const std::byte> body = data.subspan(at, n);
    if (zr == Z_OK && out_len < n) {
      h = {bbftp::kDataCompressed, static_cast<std::uint32_t>(out_len)};
      body = {packed.data(), out_len};
    }
    std::byte head[bbftp::kHeaderSize];
    bbftp::encode_block_header(h, head);
    if (auto r = io::write_all(sock, head, spec.data_timeout); !r) return from_io(r.error());
    if (auto r = io::write_all(sock, body, spec.data_timeout); !r) return from_io(r.error());
  }
  return {};
}

// Reads one block's bytes (raw, or zlib blocks that fill it exactly) into `out`.
StreamResult<void> read_block_data(int sock, std::span<std::byte> out, const StreamSpec& spec,
                                   std::vector<std::byte>& packed) {
  if (!spec.compressed) {
    if (auto r = io::read_exact(sock, out, spec.data_timeout); !r) return from_io(r.error());
    return {};
  }
  std::size_t got = 0;
  while (got < out.size()) {
    std::byte head[bbftp::kHeaderSize];
    if (auto r = io::read_exact(sock, head, spec.data_timeout); !r) return from_io(r.error());
    const auto h = bbftp::decode_block_header(head);
    if (h.datalen == 0 || h.datalen > packed.size()) {
      return Unexpected(StreamError{EILSEQ, "data stream: bad block length"});
    }
    if (auto r = io::read_exact(sock, {packed.data(), h.datalen}, spec.data_timeout); !r) {
      return from_io(r.error());
    }
    const std::size_t room = out.size() - got;
    if (h.code == bbftp::kDataCompressed) {
      uLongf out_len = static_cast<uLongf>(room);
      if (uncompress(reinterpret_cast<Bytef*>(out.data() + got), &out_len,
                     reinterpret_cast<const Bytef*>(packed.data()), h.datalen) != Z_OK) {
        return Unexpected(StreamError{EILSEQ, "data stream: corrupt compressed block"});
      }
      got += out_len;
    } else {
      if (h.datalen > room) {
        return Unexpected(StreamError{EILSEQ, "data stream: more data than the block holds"});
      }
      std::copy_n(packed.data(), h.datalen, out.data() + got);
      got += h.datalen;
    }
  }
  return {};
}

std::vector<std::byte> packed_buffer(const StreamSpec& spec) {
  return spec.compressed
             ? std::vector<std::byte>(compressBound(static_cast<uLong>(spec.block_size)))
             : std::vector<std::byte>();
}

StreamResult<void> write_sum(int sock, const std::vector<std::uint8_t>& sum, io::Timeout timeout) {
  if (auto w = io::write_all(sock, as_bytes(sum), timeout); !w) return from_io(w.error());
  return {};
}

StreamResult<void> send_checked(int sock, const storage::File& file, const StreamSpec& spec) {
  const auto& c = *spec.check;
  const std::uint64_t n = block_count(spec);
  if (!blocks_fit(spec))
    return Unexpected(StreamError{EINVAL, "data stream: blocks past the file"});
  std::vector<std::vector<std::uint8_t>> sums(n);
  BulkBuffer buf(
      static_cast<std::size_t>(std::min(c.block, std::max<std::uint64_t>(c.file_size, 1))) + 32);
  auto packed = packed_buffer(spec);
  storage::Hasher hasher(c.digest);
  auto send_block = [&](std::uint64_t j, bool again) -> StreamResult<void> {
    const auto b = block_span(spec, j);
    if (!again && c.ahead != nullptr && !spec.compressed) {
      if (auto sum = c.ahead->take(c.blocks[j])) {  // hashed already: from the page cache
        auto whole = send_file_range(sock, file, b.offset, b.length, spec.data_timeout,
                                     [](std::uint64_t) {});
        if (!whole) return Unexpected(whole.error());
        if (!*whole) {
          return Unexpected(
              StreamError{ESTALE, file.path() + " changed while being sent (it shrank)"});
        }
        // The last block's sum goes out at once: the receiver answers the segment after it.
        auto w = j + 1 < n ? write_more(sock, as_bytes(*sum), spec.data_timeout)
                           : write_sum(sock, *sum, spec.data_timeout);
        if (!w) return w;
        count(spec, b.length);
        sums[j] = std::move(*sum);
        return {};
      }
    }
    if (auto r = file.pread_exact({buf.data(), b.length}, b.offset); !r) {
      return Unexpected(StreamError{
          r.error().sys_errno,
          file.path() + " changed while being sent (it shrank): " + r.error().message()});
    }
    hasher.update(Bytes(buf.data(), b.length));
    auto sum = hasher.finish();
    if (again && sum != sums[j]) {
      return Unexpected(StreamError{ESTALE, file.path() + " changed while being sent"});
    }
    if (spec.compressed) {
      if (auto w = write_block_data(sock, {buf.data(), b.length}, spec, packed); !w) return w;
      if (auto w = io::write_all(sock, as_bytes(sum), spec.data_timeout); !w) {
        return from_io(w.error());
      }
    } else {
      // Raw: the block and its sum in one write (the buffer has room for the sum).
      std::copy(sum.begin(), sum.end(), reinterpret_cast<std::uint8_t*>(buf.data()) + b.length);
      if (auto w = io::write_all(sock, {buf.data(), b.length + sum.size()}, spec.data_timeout);
          !w) {
        return from_io(w.error());
      }
    }
    if (!again) count(spec, b.length);
    sums[j] = std::move(sum);
    return {};
  };
  for (std::uint64_t j = 0; j < n; ++j) {
    if (auto r = send_block(j, false); !r) return r;
  }
  for (int round = 0; round <= bbftp::ext::kMaxResendRounds; ++round) {
    std::byte head[bbftp::kHeaderSize];
    if (auto r = io::read_exact(sock, head, spec.ack_timeout); !r) return from_io(r.error());
    const auto h = bbftp::decode_header(head);
    if (h.code == static_cast<std::uint32_t>(bbftp::MsgCode::ack) && h.msglen == 0) {
      if (c.sums != nullptr) {
        for (std::uint64_t j = 0; j < n; ++j) (*c.sums)[c.blocks[j]] = std::move(sums[j]);
      }
      return {};
    }
    if (h.code != bbftp::ext::kMsgExtResend || h.msglen % 4 != 0 || h.msglen / 4 > n ||
        h.msglen == 0) {
      return Unexpected(StreamError{EPROTO, "data stream: expected MSG_ACK or MSG_EXT_RESEND"});
    }
    std::vector<std::byte> list(h.msglen);
    if (auto r = io::read_exact(sock, list, spec.ack_timeout); !r) return from_io(r.error());
    for (std::size_t i = 0; i < list.size(); i += 4) {
      const std::uint64_t j = load_be32(std::span<const std::byte, 4>(list.data() + i, 4));
      if (j >= n)
        return Unexpected(StreamError{EPROTO, "data stream: resend of a block past the segment"});
      if (auto r = send_block(j, true); !r) return r;
      if (c.resent != nullptr) ++*c.resent;
    }
  }
  return Unexpected(StreamError{EPROTO, "data stream: too many rounds of blocks sent again"});
}

// A raw checked stream's first pass over its blocks: received a few blocks at a time, each
// with the sum that follows it, into one buffer, as much as the socket holds per read, and each
// block hashed and written as soon as it is whole. Reading a block at a time cost a checked
// receiver several times as many reads (and window updates to the sender) as a raw one, which
// reads whatever has arrived (docs/performance.md). `sums[j]` gets the sum of each block j that
// matched; `bad` the blocks that did not, in order.
StreamResult<void> receive_blocks(int sock, const storage::File& file, const StreamSpec& spec,
                                  std::vector<std::vector<std::uint8_t>>& sums,
                                  std::vector<std::uint32_t>& bad) {
  const auto& c = *spec.check;
  const std::uint64_t n = block_count(spec);
  const std::size_t sum_size = storage::Hasher::size_of(c.digest);
  const auto block =
      static_cast<std::size_t>(std::min(c.block, std::max<std::uint64_t>(c.file_size, 1)));
  const std::size_t stride = block + sum_size;  // a block and its sum, in the buffer
  const std::size_t group = std::max<std::size_t>(1, kRawChunk / block);
  BulkBuffer buf(stride * static_cast<std::size_t>(std::min<std::uint64_t>(group, n)));
  storage::Hasher hasher(c.digest);
  for (std::uint64_t first = 0; first < n;) {
    // A group ends at the file's last block, the one that can be short (a resume may send it
    // first): every other block of a group fills its stride.
    std::size_t blocks = 0, total = 0;
    while (blocks < group && first + blocks < n) {
      const std::size_t length = block_span(spec, first + blocks).length;
      total += length + sum_size;
      ++blocks;
      if (length < block) break;
    }
    std::size_t got = 0, done = 0;  // bytes in the buffer; blocks of the group written
    while (done < blocks) {
      auto r = io::read_some(sock, {buf.data() + got, total - got}, spec.data_timeout);
      if (!r) return from_io(r.error());
      got += *r;
      for (; done < blocks; ++done) {
        const std::uint64_t j = first + done;
        const auto b = block_span(spec, j);
        const std::byte* data = buf.data() + done * stride;
        if (got < done * stride + b.length + sum_size) break;  // not whole yet
        hasher.update(Bytes(data, b.length));
        auto mine = hasher.finish();
        if (auto w = file.pwrite_all({data, b.length}, b.offset); !w) {
          return from_storage(w.error());
        }
        count(spec, b.length);
        if (!std::equal(mine.begin(), mine.end(),
                        reinterpret_cast<const std::uint8_t*>(data + b.length))) {
          bad.push_back(static_cast<std::uint32_t>(j));
          continue;
        }
        if (c.arrived) c.arrived(c.blocks[j], Bytes(data, b.length), mine);
        sums[j] = std::move(mine);
      }
    }
    first += blocks;
  }
  return {};
}

StreamResult<void> receive_checked(int sock, const storage::File& file, const StreamSpec& spec) {
  const auto& c = *spec.check;
  const std::uint64_t n = block_count(spec);
  if (!blocks_fit(spec))
    return Unexpected(StreamError{EINVAL, "data stream: blocks past the file"});
  const std::size_t sum_size = storage::Hasher::size_of(c.digest);
  std::vector<std::vector<std::uint8_t>> sums(n);
  BulkBuffer buf;  // a block's: compressed blocks and resends only (receive_blocks has its own)
  auto packed = packed_buffer(spec);
  storage::Hasher hasher(c.digest);
  std::vector<std::uint8_t> theirs(sum_size);
  // Receives block j; false when its bytes do not match the sum that follows them.
  auto receive_block = [&](std::uint64_t j) -> StreamResult<bool> {
    const auto b = block_span(spec, j);
    if (buf.size() == 0) {
      buf = BulkBuffer(
          static_cast<std::size_t>(std::min(c.block, std::max<std::uint64_t>(c.file_size, 1))));
    }
    if (auto r = read_block_data(sock, {buf.data(), b.length}, spec, packed); !r) {
      return Unexpected(r.error());
    }
    if (auto r = io::read_exact(sock, std::as_writable_bytes(std::span(theirs)), spec.data_timeout);
        !r) {
      return from_io(r.error());
    }
    hasher.update(Bytes(buf.data(), b.length));
    auto mine = hasher.finish();
    if (auto w = file.pwrite_all({buf.data(), b.length}, b.offset); !w)
      return from_storage(w.error());
    if (mine != theirs) return false;
    if (c.arrived) c.arrived(c.blocks[j], Bytes(buf.data(), b.length), mine);
    sums[j] = std::move(mine);
    return true;
  };
  std::vector<std::uint32_t> bad;
  if (spec.compressed) {
    for (std::uint64_t j = 0; j < n; ++j) {
      auto good = receive_block(j);
      if (!good) return Unexpected(good.error());
      if (!*good) bad.push_back(static_cast<std::uint32_t>(j));
      count(spec, block_span(spec, j).length);
    }
  } else if (auto r = receive_blocks(sock, file, spec, sums, bad); !r) {
    return r;
  }
  for (int round = 0;; ++round) {
    if (bad.empty()) {
      if (c.sums != nullptr) {
        for (std::uint64_t j = 0; j < n; ++j) (*c.sums)[c.blocks[j]] = std::move(sums[j]);
      }
      return send_ack(sock, spec.data_timeout);
    }
    if (round == bbftp::ext::kMaxResendRounds) {
      return Unexpected(
          StreamError{EILSEQ, "data stream: the block at offset " +
                                  std::to_string(block_span(spec, bad.front()).offset) +
                                  " arrived corrupt " + std::to_string(round + 1) + " times"});
    }
    std::vector<std::byte> ask(bbftp::kHeaderSize + 4 * bad.size());
    bbftp::encode_header({bbftp::ext::kMsgExtResend, static_cast<std::uint32_t>(4 * bad.size())},
                         std::span<std::byte, bbftp::kHeaderSize>(ask.data(), bbftp::kHeaderSize));
    for (std::size_t i = 0; i < bad.size(); ++i) {
      store_be32(std::span<std::byte, 4>(ask.data() + bbftp::kHeaderSize + 4 * i, 4), bad[i]);
    }
    if (auto w = io::write_all(sock, ask, spec.data_timeout); !w) return from_io(w.error());
    if (c.resent != nullptr) *c.resent += bad.size();
    std::vector<std::uint32_t> still;
    for (auto j : bad) {
      auto good = receive_block(j);
      if (!good) return Unexpected(good.error());
      if (!*good) still.push_back(j);
    }
    bad = std::move(still);
  }
}

}  // namespace

std::optional<FileVersion> file_version(const storage::File& file) {
  struct stat st {};
  if (::fstat(file.fd(), &st) != 0) return std::nullopt;
  return FileVersion{static_cast<std::uint64_t>(st.st_size),
                     st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
                     st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec};
}

std::vector<std::uint8_t> whole_file_sum(storage::Digest whole, std::uint64_t size,
                                         std::uint64_t block,
                                         const std::vector<std::vector<std::uint8_t>>& sums) {
  storage::Hasher h(whole);
  std::byte head[12];
  store_be64(std::span<std::byte, 8>(head, 8), size);
  store_be32(std::span<std::byte, 4>(head + 8, 4), static_cast<std::uint32_t>(block));
  h.update(Bytes(head, sizeof head));
  for (const auto& s : sums) h.update(as_bytes(s));
  return h.finish();
}

StreamResult<void> send_segment(int sock, const storage::File& file, const StreamSpec& spec) {
  // Data sockets are blocking, and sendfile takes no MSG_DONTWAIT: without the kernel's bound it
  // would wait forever on a peer that stops reading but keeps its connection open.
  io::set_send_timeout(sock, spec.data_timeout);
  if (spec.check) return send_checked(sock, file, spec);
  auto sent = spec.compressed ? send_compressed(sock, file, spec) : send_raw(sock, file, spec);
  if (!sent) return sent;
  return wait_ack(sock, spec.ack_timeout);
}

StreamResult<void> receive_segment(int sock, const storage::File& file, const StreamSpec& spec) {
  if (spec.check) return receive_checked(sock, file, spec);
  auto got = spec.compressed ? receive_compressed(sock, file, spec) : receive_raw(sock, file, spec);
  if (!got) return got;
  return send_ack(sock, spec.data_timeout);
}

}  // namespace ferry::session
