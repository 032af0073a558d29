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
  // The id is held by the map, the global queue and the host's queue (twice each after a
  // reply that restarts the window).
  return key.id.size() * 5 + key.host.size() + kMaxRemembered + kEntryOverhead;
}

DuplicateFilter::Lookup DuplicateFilter::check(const Key& key, const Datagram& request,
                                               TimePoint now) {
  if (request.command == static_cast<std::uint8_t>(Command::list)) return {};
  expire(now);
  if (auto it = entries_.find(key.id); it != entries_.end()) {
    if (!it->second.answered) return {Seen::in_progress, {}};
    return {Seen::answered, it->second.reply};
  }
  const std::size_t cost = cost_of(key) + (per_host_.contains(key.host) ? 0 : kHostOverhead);
  const std::size_t mine = bytes_of(key.host);
  if (mine + cost > limits_.per_source_bytes) return {Seen::over_budget, {}};
  // Full: room can be made only at the expense of a host holding more than this one will.
  if (bytes_ + cost > limits_.budget_bytes && heaviest(mine + cost) == nullptr) {
    return {Seen::over_budget, {}};
  }
  return {};
}

bool DuplicateFilter::remember(const Key& key, TimePoint now) {
  if (entries_.contains(key.id)) return true;
  const std::size_t cost = cost_of(key);
  const std::size_t record = per_host_.contains(key.host) ? 0 : kHostOverhead;
  while (bytes_ + cost + record > limits_.budget_bytes) {
    const std::string* h = heaviest(bytes_of(key.host) + cost + record);
    if (h == nullptr || !evict_oldest(*h)) break;
  }
  if (bytes_ + cost + record > limits_.budget_bytes) return false;
  if (bytes_of(key.host) + cost + record > limits_.per_source_bytes) return false;
  entries_.emplace(key.id, Entry{key.host, false, {}, now, cost});
  order_.emplace_back(now, key.id);
  auto [it, fresh] = per_host_.try_emplace(key.host);
  if (fresh) bytes_ += kHostOverhead;
  it->second.order.emplace_back(now, key.id);
  set_bytes(key.host, it->second, it->second.bytes + cost);
  bytes_ += cost;
  compact();
  return true;
}

// Records of entries gone early (evicted, forgotten, restarted) wait in `order_` for their
// window; past twice the entries, drop them at once so the queue stays bounded by the entries.
void DuplicateFilter::compact() {
  if (order_.size() <= 2 * entries_.size() + 1024) return;
  std::erase_if(order_, [&](const auto& r) {
    auto it = entries_.find(r.second);
    return it == entries_.end() || it->second.at != r.first;
  });
}

void DuplicateFilter::set_bytes(const std::string& name, Host& h, std::size_t bytes) {
  by_bytes_.erase({h.bytes, name});
  h.bytes = bytes;
  if (bytes > 0) by_bytes_.insert({bytes, name});
}

const std::string* DuplicateFilter::heaviest(std::size_t than) const {
  for (auto it = by_bytes_.rbegin(); it != by_bytes_.rend() && it->first > than; ++it) {
    const auto h = per_host_.find(it->second);
    if (h != per_host_.end() && h->second.answered > 0) return &it->second;
  }
  return nullptr;
}

bool DuplicateFilter::evict_oldest(const std::string& name) {
  auto h = per_host_.find(name);
  if (h == per_host_.end()) return false;
  auto& order = h->second.order;
  for (std::size_t i = 0; i < order.size();) {
    auto it = entries_.find(order[i].second);
    if (it == entries_.end() || it->second.at != order[i].first) {
      order.erase(order.begin() + static_cast<std::ptrdiff_t>(i));  // a stale record
      continue;
    }
    if (!it->second.answered) {
      ++i;  // still being carried out: it stays
      continue;
    }
    order.erase(order.begin() + static_cast<std::ptrdiff_t>(i));
    erase(it);  // may erase the host's record: neither `order` nor `name` is used after this
    return true;
  }
  return false;
}

DuplicateFilter::Lookup DuplicateFilter::begin(const Key& key, const Datagram& request,
                                               TimePoint now) {
  auto found = check(key, request, now);
  if (found.seen == Seen::fresh && request.command != static_cast<std::uint8_t>(Command::list) &&
      !remember(key, now)) {
    found.seen = Seen::over_budget;
  }
  return found;
}

void DuplicateFilter::finish(const Key& key, std::vector<std::uint8_t> reply, TimePoint now) {
  if (auto it = entries_.find(key.id); it != entries_.end()) {
    if (!it->second.answered) ++per_host_[it->second.host].answered;
    it->second.answered = true;
    if (reply.size() <= kMaxRemembered) it->second.reply = std::move(reply);
    // Its window restarts; the older slot in `order_` no longer matches `at` and is skipped.
    if (now > it->second.at) {
      it->second.at = now;
      order_.emplace_back(now, key.id);
      per_host_[it->second.host].order.emplace_back(now, key.id);
    }
  }
}

void DuplicateFilter::forget(const Key& key) {
  // Its `order_` slot expires harmlessly (the entry is gone, or is a younger one).
  if (auto it = entries_.find(key.id); it != entries_.end()) erase(it);
}

std::size_t DuplicateFilter::bytes_of(const std::string& host) const {
  const auto it = per_host_.find(host);
  return it == per_host_.end() ? 0 : it->second.bytes + kHostOverhead;
}

void DuplicateFilter::erase(std::unordered_map<std::string, Entry>::iterator it) {
  auto h = per_host_.find(it->second.host);
  if (h != per_host_.end()) {
    if (it->second.answered && h->second.answered > 0) --h->second.answered;
    const std::size_t left = h->second.bytes - std::min(h->second.bytes, it->second.cost);
    set_bytes(h->first, h->second, left);
    if (left == 0) {
      per_host_.erase(h);
      bytes_ -= kHostOverhead;
    }
  }
  bytes_ -= it->second.cost;
  entries_.erase(it);
}

void DuplicateFilter::expire(TimePoint now) {
  while (!order_.empty() && now - order_.front().first > limits_.window) {
    auto it = entries_.find(order_.front().second);
    // A key forgotten and begun again has a younger entry of its own: keep that one.
    if (it != entries_.end() && it->second.at == order_.front().first) {
      const std::string host = it->second.host;
      erase(it);
      // The host's own queue is in the same order: drop what no longer leads to an entry.
      if (auto h = per_host_.find(host); h != per_host_.end()) {
        auto& q = h->second.order;
        while (!q.empty()) {
          auto e = entries_.find(q.front().second);
          if (e != entries_.end() && e->second.at == q.front().first) break;
          q.pop_front();
        }
      }
    }
    order_.pop_front();
  }
}

}  // namespace ferry::xftp
