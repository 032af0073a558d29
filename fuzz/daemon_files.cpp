// The files the daemon reads: the first byte picks our password file or the real bbftpd's rc
// file. Parsing must never crash; a password file that parses holds only usable entries, and
// written back out it parses to the same entries.
#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/auth.hpp"
#include "daemon/rcfile.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 1) == 0) {
    const auto rc = ferry::daemon::parse_rc(text);
    for (auto* v : {&rc.ack_timeout, &rc.recv_control_timeout, &rc.send_control_timeout,
                    &rc.data_timeout, &rc.check_stdin_timeout}) {
      FUZZ_CHECK(!*v || **v > 0);
    }
    return 0;
  }
  auto f = ferry::daemon::PasswordFile::parse(text, "fuzz");
  if (!f) return 0;
  std::string again;
  for (const auto& e : f->entries()) {
    FUZZ_CHECK(!e.user.empty() && e.user.find(':') == std::string::npos);
    FUZZ_CHECK(!e.root.empty() && e.root.front() == '/');
    FUZZ_CHECK(f->find(e.user) == &e);
    again += e.user + ":" + e.hash + ":" + e.root + "\n";
  }
  auto g = ferry::daemon::PasswordFile::parse(again, "again");
  FUZZ_CHECK(g.has_value() && g->entries().size() == f->entries().size());
  for (std::size_t i = 0; i < g->entries().size(); ++i) {
    FUZZ_CHECK(g->entries()[i].user == f->entries()[i].user);
    FUZZ_CHECK(g->entries()[i].hash == f->entries()[i].hash);
    FUZZ_CHECK(g->entries()[i].root == f->entries()[i].root);
  }
  return 0;
}
