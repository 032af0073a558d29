#include "daemon/host_key_process.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "crypto/host_key.hpp"

namespace ferry::daemon {
namespace {

// Runs `job` in a child whose only output is the pipe: u8 status (0 ok) | the result bytes (or
// the error's text). Waits for it (it does little: a file read and a signature).
template <class Job>
Result<std::vector<std::uint8_t>, std::string> in_child(Job job) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Unexpected(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return Unexpected(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    std::vector<std::uint8_t> out;
    auto r = job();
    if (r) {
      out.push_back(0);
      out.insert(out.end(), r->begin(), r->end());
    } else {
      out.push_back(1);
      out.insert(out.end(), r.error().begin(), r.error().end());
    }
    std::size_t at = 0;
    while (at < out.size()) {
      const ssize_t n = ::write(fds[1], out.data() + at, out.size() - at);
      if (n <= 0 && errno != EINTR) break;
      if (n > 0) at += static_cast<std::size_t>(n);
    }
    ::_exit(0);  // no destructor, no atexit handler of the parent's runs here
  }
  ::close(fds[1]);
  std::vector<std::uint8_t> got;
  std::uint8_t buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.insert(got.end(), buf, buf + n);
    if (got.size() > 65536) break;
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got.empty()) return Unexpected(std::string("the host key's process said nothing"));
  if (got[0] != 0) return Unexpected(std::string(got.begin() + 1, got.end()));
  got.erase(got.begin());
  return got;
}

}  // namespace

Result<std::string, std::string> prepare_host_key(const std::string& path) {
  auto r = in_child([&]() -> Result<std::vector<std::uint8_t>, std::string> {
    auto key = crypto::HostKey::load_or_create(path, true);
    if (!key) return Unexpected(key.error());
    const auto fp = crypto::fingerprint(key->public_key());
    return std::vector<std::uint8_t>(fp.begin(), fp.end());
  });
  if (!r) return Unexpected(r.error());
  return std::string(r->begin(), r->end());
}

Result<HostKeySignature, std::string> sign_with_host_key(const std::string& path,
                                                         const MessageFor& message) {
  auto r = in_child([&]() -> Result<std::vector<std::uint8_t>, std::string> {
    auto key = crypto::HostKey::load_or_create(path, false);
    if (!key) return Unexpected(key.error());
    std::vector<std::uint8_t> out(key->public_key().begin(), key->public_key().end());
    const auto sig = key->sign(message(key->public_key()));
    out.insert(out.end(), sig.begin(), sig.end());
    return out;
  });
  if (!r) return Unexpected(r.error());
  if (r->size() != 96) return Unexpected(std::string("the host key's process answered badly"));
  HostKeySignature s;
  std::copy_n(r->begin(), 32, s.public_key.begin());
  std::copy_n(r->begin() + 32, 64, s.signature.begin());
  return s;
}

}  // namespace ferry::daemon
