#include "sim/transfer_sim.hpp"

#include <xxhash.h>

#include <cstring>
#include <sstream>

namespace ferry::sim {
namespace {

using namespace ferry::xftp;

ext::Checksum xxh3_128(const std::vector<std::uint8_t>& bytes) {
  const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  ext::Checksum out{};
  std::memcpy(out.data(), c.digest, out.size());
  return out;
}

std::vector<std::uint8_t> content(std::uint64_t size, std::uint64_t seed) {
  std::vector<std::uint8_t> v(size);
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::uint64_t i = 0; i < size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    for (std::uint64_t k = 0; k < 8 && i + k < size; ++k) {
      v[i + k] = static_cast<std::uint8_t>(x >> (8 * k));
    }
  }
  return v;
}

}  // namespace

LinkConfig gigabit_50ms(double loss, double reorder, double duplicate) {
  LinkConfig l;
  l.rate_bits_per_s = 1e9;
  l.delay = std::chrono::milliseconds(25);
  l.queue_bytes = 6'250'000;  // 1 Gbit/s x 50 ms
  l.loss = loss;
  l.reorder = reorder;
  l.duplicate = duplicate;
  return l;
}

std::string TransferSimResult::summary() const {
  std::ostringstream s;
  s << (identical ? "identical" : "DIFFERENT") << ", sender "
    << (sender_outcome ? static_cast<int>(*sender_outcome) : -1) << ", receiver "
    << (receiver_outcome ? static_cast<int>(*receiver_outcome) : -1) << ", "
    << std::chrono::duration<double>(elapsed).count() << " s virtual, " << events
    << " events; sent " << sender.datagrams << " (" << sender.retransmitted << " again, "
    << sender.lost << " declared lost, " << sender.probes << " probes), acks " << receiver.acks
    << ", duplicates " << receiver.duplicates << "; link lost " << forward.lost << "/"
    << backward.lost << ", queue drops " << forward.queue_drops << "/" << backward.queue_drops
    << ", decode errors " << decode_errors;
  return s.str();
}

TransferSimResult simulate_transfer(const TransferSimConfig& config) {
  TransferSimResult result;
  const auto source = content(config.size, config.seed);
  std::vector<std::uint8_t> target(config.size, 0);
  for (const auto& r : config.present.ascending()) {
    for (auto i = r.first; i < r.last && i < config.size; ++i) {
      target[i] = config.corrupt_present ? static_cast<std::uint8_t>(~source[i]) : source[i];
    }
  }
  Network net(config.forward, config.backward, config.seed);
  TransferSender sender(config.sender, config.size, xxh3_128(source), config.present);
  TransferReceiver receiver(config.receiver, config.size, config.present);
  receiver.begin(net.now());
  const ext::ConnectionId cid{1, 2, 3, 4, 5, 6, 7, 8};
  std::uint64_t packet[2] = {0, 0};

  auto send = [&](int from, ext::Body body) {
    ext::Datagram d{{ext::type_of(body, from == 1), cid, packet[from]++}, std::move(body)};
    net.send(from, ext::encode(d));
  };
  auto drain = [&] {
    while (auto out = sender.next(net.now())) {
      if (const auto* s = std::get_if<SendData>(&*out)) {
        ext::Data d{config.sender.transfer, s->seq, s->offset, {}};
        d.payload.assign(source.begin() + static_cast<std::ptrdiff_t>(s->offset),
                         source.begin() + static_cast<std::ptrdiff_t>(s->offset + s->length));
        send(0, std::move(d));
      } else {
        send(0, std::get<ext::End>(*out));
      }
    }
    while (auto out = receiver.next(net.now())) {
      std::visit([&](auto&& m) { send(1, m); }, *out);
    }
  };

  drain();
  const Time start = net.now();
  for (; result.events < config.max_events; ++result.events) {
    if (sender.done()) break;
    std::optional<Time> at = net.next_arrival_time();
    for (const auto& d : {sender.deadline(), receiver.deadline()}) {
      if (d && (!at || *d < *at)) at = d;
    }
    if (!at || *at - start > config.time_limit) break;  // nothing left to happen, or too long
    if (auto arrival = net.next_arrival(*at)) {
      auto d = ext::decode(
          {reinterpret_cast<const std::byte*>(arrival->bytes.data()), arrival->bytes.size()});
      if (!d) {
        ++result.decode_errors;
        continue;
      }
      const Time now = net.now();
      if (arrival->to == 1) {
        if (const auto* data = std::get_if<ext::Data>(&d->body)) {
          if (auto w = receiver.on_data(*data, now)) {
            for (const auto& part : w->parts) {
              std::memcpy(target.data() + part.first,
                          data->payload.data() + (part.first - data->offset), part.size());
            }
          }
        } else if (const auto* end = std::get_if<ext::End>(&d->body)) {
          if (auto v = receiver.on_end(*end, now)) {
            receiver.on_verified(xxh3_128(target) == v->checksum
                                     ? ext::EndStatus::in_place
                                     : ext::EndStatus::checksum_mismatch);
          }
        }
      } else {
        if (const auto* ack = std::get_if<ext::Ack>(&d->body)) sender.on_ack(*ack, now);
        if (const auto* ok = std::get_if<ext::EndOk>(&d->body)) sender.on_end_ok(*ok, now);
      }
    } else {
      net.advance_to(*at);
      const Time now = net.now();
      if (auto d1 = sender.deadline(); d1 && *d1 <= now) sender.on_timeout(now);
      if (auto d2 = receiver.deadline(); d2 && *d2 <= now) receiver.on_timeout(now);
    }
    drain();
  }
  result.elapsed = net.now() - start;
  result.sender_outcome = sender.outcome();
  result.receiver_outcome = receiver.outcome();
  result.identical = target == source;
  result.sender = sender.stats();
  result.receiver = receiver.stats();
  result.forward = net.stats(0);
  result.backward = net.stats(1);
  return result;
}

}  // namespace ferry::sim
