// XFTP extended mode on any bytes: the codec, the commands' fields, and both transfer cores fed
// what a hostile peer sends. The input is a sequence of records: a length byte pair (the top bit
// sends the datagram to the sender's core instead of the receiver's), the datagram, a byte of
// milliseconds that pass. A datagram that decodes re-encodes to one that decodes the same; the
// cores never count more bytes than the file has, and never want more than a window's worth sent at
// once.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_check.hpp"
#include "proto/xftp/extended.hpp"
#include "proto/xftp/extended_commands.hpp"
#include "proto/xftp/transfer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::xftp;
  constexpr std::uint64_t kSize = 1 << 20;
  SenderConfig sc;
  sc.window.window_bytes = 256 << 10;
  TransferSender sender(sc, kSize, {});
  TransferReceiver receiver(ReceiverConfig{}, kSize);
  Time now{};
  auto drain = [&] {
    std::size_t n = 0;
    while (sender.next(now)) FUZZ_CHECK(++n <= 2 * (256 << 10) / sc.payload_bytes + 4);
    n = 0;
    while (receiver.next(now)) FUZZ_CHECK(++n <= 2);
  };
  drain();
  std::size_t at = 0;
  while (at + 2 <= size) {
    const bool to_sender = (data[at] & 0x80) != 0;
    const std::size_t len = static_cast<std::size_t>(((data[at] & 0x7f) << 8) | data[at + 1]);
    at += 2;
    if (len > size - at) break;
    const ferry::Bytes d(reinterpret_cast<const std::byte*>(data + at), len);
    at += len;
    if (at < size) now += std::chrono::milliseconds(data[at++]);
    auto m = ext::decode(d);
    if (!m) continue;
    auto again = ext::decode(ferry::as_bytes(ext::encode(*m)));
    FUZZ_CHECK(again && *again == *m);
    // REQUEST and REPLY bodies, for every command: what parses re-encodes to itself.
    if (const auto* q = std::get_if<ext::Request>(&m->body)) {
      const auto c = static_cast<ext::Command>(q->command);
      if (auto f = ext::decode_fields(c, ferry::as_bytes(q->body))) {
        FUZZ_CHECK(ext::decode_fields(c, ferry::as_bytes(ext::encode_fields(*f))) == f);
      }
    }
    if (const auto* p = std::get_if<ext::Reply>(&m->body)) {
      const auto c = static_cast<ext::Command>(p->id % 7);
      const auto s = static_cast<ext::Status>(p->status);
      if (auto f = ext::decode_fields(c, s, ferry::as_bytes(p->body))) {
        if (s == ext::Status::ok || s == ext::Status::busy) {
          FUZZ_CHECK(ext::decode_fields(c, s, ferry::as_bytes(ext::encode_fields(*f))) == f);
        }
      }
    }
    if (to_sender) {
      if (const auto* a = std::get_if<ext::Ack>(&m->body)) sender.on_ack(*a, now);
      if (const auto* e = std::get_if<ext::EndOk>(&m->body)) sender.on_end_ok(*e, now);
    } else {
      if (const auto* x = std::get_if<ext::Data>(&m->body)) {
        if (auto w = receiver.on_data(*x, now)) {
          FUZZ_CHECK(x->offset + x->payload.size() <= kSize);
          FUZZ_CHECK(!w->parts.empty());
          for (const auto& part : w->parts) {  // new bytes only, within the datagram's
            FUZZ_CHECK(part.first >= x->offset && part.first < part.last);
            FUZZ_CHECK(part.last <= x->offset + x->payload.size());
          }
        }
      }
      if (const auto* e = std::get_if<ext::End>(&m->body)) {
        if (receiver.on_end(*e, now)) {
          FUZZ_CHECK(receiver.complete());
          receiver.on_verified(ext::EndStatus::checksum_mismatch);
        }
      }
    }
    if (auto t = sender.deadline(); t && *t <= now) sender.on_timeout(now);
    if (auto t = receiver.deadline(); t && *t <= now) receiver.on_timeout(now);
    drain();
    FUZZ_CHECK(receiver.present().count() <= kSize);
    FUZZ_CHECK(sender.acked_bytes() <= kSize);
  }
  return 0;
}
