#include "proto/xftp/legacy_server.hpp"

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

std::string DuplicateFilter::key(std::string_view source, const Datagram& request) {
  std::string k(source);
  k += '\0';
  k.append(request.id.begin(), request.id.end());
  k += static_cast<char>(request.command);
  k += request.data;
  return k;
}

DuplicateFilter::Lookup DuplicateFilter::begin(const std::string& key, const Datagram& request,
                                               TimePoint now) {
  if (request.command == static_cast<std::uint8_t>(Command::list)) return {};
  expire(now);
  if (auto it = entries_.find(key); it != entries_.end()) {
    if (!it->second.answered) return {Seen::in_progress, {}};
    return {Seen::answered, it->second.reply};
  }
  while (entries_.size() >= capacity_ && !order_.empty()) drop_oldest();
  entries_.emplace(key, Entry{false, {}, now});
  order_.emplace_back(now, key);
  return {};
}

void DuplicateFilter::finish(const std::string& key, std::vector<std::uint8_t> reply) {
  if (auto it = entries_.find(key); it != entries_.end()) {
    it->second.answered = true;
    it->second.reply = std::move(reply);
  }
}

void DuplicateFilter::forget(const std::string& key) {
  entries_.erase(key);  // its `order_` slot expires harmlessly (erasing a missing key)
}

void DuplicateFilter::expire(TimePoint now) {
  while (!order_.empty() && now - order_.front().first > window_) drop_oldest();
}

void DuplicateFilter::drop_oldest() {
  auto it = entries_.find(order_.front().second);
  // A key forgotten and begun again has a younger entry of its own: keep that one.
  if (it != entries_.end() && it->second.at == order_.front().first) entries_.erase(it);
  order_.pop_front();
}

}  // namespace ferry::xftp
