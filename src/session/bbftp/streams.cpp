#include "session/bbftp/streams.hpp"

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <zlib.h>

#include <cerrno>
#include <vector>

#include "proto/bbftp/codec.hpp"

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

StreamResult<void> send_raw(int sock, const storage::File& file, const StreamSpec& spec) {
  auto offset = static_cast<off_t>(spec.offset);
  std::uint64_t left = spec.length;
  // sendfile: the kernel moves page-cache pages straight to the socket.
  while (left > 0) {
    const ssize_t n =
        ::sendfile(sock, file.fd(), &offset, std::min<std::uint64_t>(left, kRawChunk));
    if (n > 0) {
      left -= static_cast<std::uint64_t>(n);
      count(spec, static_cast<std::uint64_t>(n));
      continue;
    }
    if (n == 0) return Unexpected(StreamError{EIO, file.path() + ": file shrank while sending"});
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      if (auto w = io::wait_writable(sock, spec.data_timeout); !w) return from_io(w.error());
      continue;
    }
    return Unexpected(StreamError{errno, "data stream: send failed"});
  }
  return {};
}

StreamResult<void> send_compressed(int sock, const storage::File& file, const StreamSpec& spec) {
  std::vector<std::byte> raw(spec.block_size);
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
  std::vector<std::byte> buf(std::min<std::uint64_t>(
      std::max<std::size_t>(spec.block_size, kRawChunk), std::max<std::uint64_t>(spec.length, 1)));
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
  std::vector<std::byte> raw(spec.block_size);
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

}  // namespace

StreamResult<void> send_segment(int sock, const storage::File& file, const StreamSpec& spec) {
  auto sent = spec.compressed ? send_compressed(sock, file, spec) : send_raw(sock, file, spec);
  if (!sent) return sent;
  return wait_ack(sock, spec.ack_timeout);
}

StreamResult<void> receive_segment(int sock, const storage::File& file, const StreamSpec& spec) {
  auto got = spec.compressed ? receive_compressed(sock, file, spec) : receive_raw(sock, file, spec);
  if (!got) return got;
  return send_ack(sock, spec.data_timeout);
}

}  // namespace ferry::session
