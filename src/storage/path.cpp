#include "storage/path.hpp"

#include <cerrno>

#include "core/utf8.hpp"
#include "storage/partial.hpp"

namespace ferry::storage {

Result<void> check_path(std::string_view path, const PathPolicy& policy) {
  if (path.empty()) return fail(Errc::invalid_name, ENOENT, path);
  if (path.find('\0') != std::string_view::npos) return fail(Errc::invalid_name, EINVAL, path);
  if (path.size() > kMaxPathBytes) return fail(Errc::name_too_long, ENAMETOOLONG, path);
  if (policy.require_utf8 && !is_valid_utf8(path)) return fail(Errc::invalid_name, EILSEQ, path);
  for (auto c : components(path)) {
    if (c.size() > kMaxNameBytes) return fail(Errc::name_too_long, ENAMETOOLONG, path);
    if (policy.hide_temporaries && is_temporary_name(c)) {
      // EPERM, not EINVAL: callers read invalid_name + EINVAL as "the root itself".
      return fail(Errc::invalid_name, EPERM, path);
    }
  }
  return {};
}

bool is_temporary_name(std::string_view leaf) noexcept {
  if (leaf.size() < 2 || leaf.front() != '.') return false;
  if (leaf.ends_with(kReservedSuffix) || is_partial_name(leaf)) return true;
  if (leaf.size() < kRandomInfix.size() + kRandomHexDigits) return false;
  const auto tail = leaf.substr(leaf.size() - kRandomHexDigits);
  if (leaf.substr(leaf.size() - kRandomHexDigits - kRandomInfix.size(), kRandomInfix.size()) !=
      kRandomInfix) {
    return false;
  }
  for (char c : tail) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    const auto j = path.find('/', i);
    const auto end = j == std::string_view::npos ? path.size() : j;
    const auto c = path.substr(i, end - i);
    if (!c.empty() && c != ".") out.push_back(c);
    i = end + 1;
  }
  return out;
}

ParentAndLeaf split_parent(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return {"", std::string(path)};
  auto parent = path.substr(0, slash);
  if (parent.empty()) parent = "/";
  return {std::string(parent), std::string(path.substr(slash + 1))};
}

std::string normalize_absolute(std::string_view path) {
  std::vector<std::string_view> stack;
  for (auto c : components(path)) {
    if (c == "..") {
      if (!stack.empty()) stack.pop_back();
    } else {
      stack.push_back(c);
    }
  }
  std::string out;
  for (auto c : stack) {
    out += '/';
    out += c;
  }
  return out.empty() ? "/" : out;
}

std::string join(std::string_view base, std::string_view path) {
  if (!path.empty() && path.front() == '/') return std::string(path);
  std::string out(base);
  if (out.empty() || out.back() != '/') out += '/';
  out += path;
  return out;
}

}  // namespace ferry::storage
