#include "proto/xftp/legacy_server.hpp"

#include <xxhash.h>

#include "core/utf8.hpp"

namespace ferry::xftp {

bool acceptable_path(std::string_view path) noexcept {
  if (path.empty() || path.find('\0') != std::string_view::npos || !is_valid_utf8(path)) {
    return false;
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto end = std::min(path.find('/', start), path.size());
    if (path.substr(start, end - start) == "..") return false;
    start = end + 1;
  }
  return true;
}

Result<Request, Status> classify(const Datagram& request) {
  // The original server reads 4096 bytes at most: a longer request was never a valid one.
  if (kHeaderSize + request.data.size() > kLegacyDatagram) return Unexpected(Status::invalid);
  const auto command = static_cast<Command>(request.command);
  switch (command) {
    case Command::list:
    case Command::upload:
    case Command::download:
    case Command::remove:
    case Command::mkdir:
      if (!acceptable_path(request.data)) return Unexpected(Status::invalid);
      return Request{command, request.data, {}};
    case Command::move: {
      auto m = decode_move(request.data);
      if (!m || !acceptable_path(m->first) || !acceptable_path(m->second)) {
        return Unexpected(Status::invalid);
      }
      return Request{command, std::move(m->first), std::move(m->second)};
    }
    default:
      return Unexpected(Status::invalid);
  }
}

std::vector<std::uint8_t> reply_to(const Datagram& request, Status status, std::string data) {
  return encode({status, request.command, request.id, std::move(data)});
}

DuplicateFilter::Key DuplicateFilter::key(std::string_view host, std::string_view endpoint,
                                          const Datagram& request) const {
  XXH3_state_t* st = XXH3_createState();
  XXH3_128bits_reset_withSeed(st, seed_);
  XXH3_128bits_update(st, request.id.data(), request.id.size());
  XXH3_128bits_update(st, &request.command, 1);
  XXH3_128bits_update(st, request.data.data(), request.data.size());
  XXH128_canonical_t digest;
  XXH128_canonicalFromHash(&digest, XXH3_128bits_digest(st));
  XXH3_freeState(st);
  Key k{std::string(host), std::string(endpoint)};
  k.id += '\0';
  k.id.append(reinterpret_cast<const char*>(digest.digest), sizeof digest.digest);
  return k;
}

std::size_t DuplicateFilter::cost_of(const Key& key) {
  return key.id.size() * 2 + key.host.size() + kMaxRemembered + kEntryOverhead;
}

DuplicateFilter::Lookup DuplicateFilter::check(const Key& key, const Datagram& request,
                                               TimePoint now) {
  if (request.command == static_cast<std::uint8_t>(Command::list)) return {};
  expire(now);
  if (auto it = entries_.find(key.id); it != entries_.end()) {
    if (!it->second.answered) return {Seen::in_progress, {}};
    return {Seen::answered, it->second.reply};
  }
  const std::size_t cost = cost_of(key);
  if (bytes_ + cost > limits_.budget_bytes ||
      bytes_of(key.host) + cost > limits_.per_source_bytes) {
    return {Seen::over_budget, {}};
  }
  return {};
}

void DuplicateFilter::remember(const Key& key, TimePoint now) {
  if (entries_.contains(key.id)) return;
  const std::size_t cost = cost_of(key);
  entries_.emplace(key.id, Entry{key.host, false, {}, now, cost});
  order_.emplace_back(now, key.id);
  per_host_[key.host] += cost;
  bytes_ += cost;
}

DuplicateFilter::Lookup DuplicateFilter::begin(const Key& key, const Datagram& request,
                                               TimePoint now) {
  auto found = check(key, request, now);
  if (found.seen == Seen::fresh && request.command != static_cast<std::uint8_t>(Command::list)) {
    remember(key, now);
  }
  return found;
}

void DuplicateFilter::finish(const Key& key, std::vector<std::uint8_t> reply) {
  if (auto it = entries_.find(key.id); it != entries_.end()) {
    it->second.answered = true;
    if (reply.size() <= kMaxRemembered) it->second.reply = std::move(reply);
  }
}

void DuplicateFilter::forget(const Key& key) {
  // Its `order_` slot expires harmlessly (the entry is gone, or is a younger one).
  if (auto it = entries_.find(key.id); it != entries_.end()) erase(it);
}

std::size_t DuplicateFilter::bytes_of(const std::string& host) const {
  const auto it = per_host_.find(host);
  return it == per_host_.end() ? 0 : it->second;
}

void DuplicateFilter::erase(std::unordered_map<std::string, Entry>::iterator it) {
  auto h = per_host_.find(it->second.host);
  if (h != per_host_.end()) {
    h->second -= it->second.cost;
    if (h->second == 0) per_host_.erase(h);
  }
  bytes_ -= it->second.cost;
  entries_.erase(it);
}

void DuplicateFilter::expire(TimePoint now) {
  while (!order_.empty() && now - order_.front().first > limits_.window) {
    auto it = entries_.find(order_.front().second);
    // A key forgotten and begun again has a younger entry of its own: keep that one.
    if (it != entries_.end() && it->second.at == order_.front().first) erase(it);
    order_.pop_front();
  }
}

}  // namespace ferry::xftp
