// xftpd's request handling on any datagram, against a real served root in a scratch directory:
// classification and the duplicate filter never crash, every reply fits a legacy datagram and
// echoes CMD and ID, and nothing outside the root is ever touched (a canary next to the root keeps
// its content, and the scratch directory gains no entry).
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_check.hpp"
#include "proto/xftp/legacy_server.hpp"
#include "session/xftp/request_handler.hpp"
#include "storage/sandbox.hpp"

namespace {

namespace fs = std::filesystem;
constexpr const char* kCanary = "must stay";

struct Scratch {
  fs::path base;
  fs::path root;
  Scratch() {
    char tmpl[] = "/tmp/ferry-fuzz-xftp-XXXXXX";
    FUZZ_CHECK(::mkdtemp(tmpl) != nullptr);
    base = tmpl;
    root = base / "root";
    std::ofstream(base / "outside.txt") << kCanary;
    reset();
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(base, ec);
  }
  // The served tree: files, a directory, symlinks inside, to the outside and to /etc.
  void reset() {
    std::error_code ec;
    fs::remove_all(root, ec);
    fs::create_directories(root / "sub" / "deeper");
    std::ofstream(root / "hello.txt") << "hello";
    std::ofstream(root / "sub" / "a") << "a";
    fs::create_symlink("../outside.txt", root / "out", ec);
    fs::create_symlink("/etc", root / "etc", ec);
    fs::create_symlink("sub", root / "inside", ec);
  }
  void check_outside() const {
    std::ifstream in(base / "outside.txt");
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    FUZZ_CHECK(content == kCanary);
    int entries = 0;
    for (const auto& e : fs::directory_iterator(base)) {
      (void)e;
      ++entries;
    }
    FUZZ_CHECK(entries == 2);  // root and outside.txt
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry;
  static Scratch scratch;
  static xftp::DuplicateFilter filter(
      {.window = std::chrono::seconds(35), .budget_bytes = 64 << 10, .per_source_bytes = 16 << 10},
      1);
  static unsigned runs = 0;
  if (++runs % 256 == 0) scratch.reset();

  auto request = xftp::decode({reinterpret_cast<const std::byte*>(data), size});
  if (!request) return 0;
  auto key = filter.key("127.0.0.1", "127.0.0.1:1", *request);
  auto seen = filter.begin(key, *request,
                           std::chrono::steady_clock::time_point(std::chrono::seconds(runs)));
  if (seen.seen == xftp::DuplicateFilter::Seen::answered) FUZZ_CHECK(seen.reply.size() >= 11);
  FUZZ_CHECK(filter.bytes() <= (64U << 10) && filter.bytes_of("127.0.0.1") <= (16U << 10));

  auto root = storage::Sandbox::confined(
      scratch.root.string(), {.resolver = storage::Resolver::automatic,
                              .policy = {.require_utf8 = true, .hide_temporaries = true},
                              .umask = 022});
  FUZZ_CHECK(root.has_value());
  session::XftpRequestHandler handler(*root);
  std::vector<std::uint8_t> reply;
  if (auto r = xftp::classify(*request)) {
    auto outcome = handler.execute(*r, runs % 2 == 0);
    if (outcome.upload) outcome.upload->abort();
    if (outcome.status != xftp::Status::ok) FUZZ_CHECK(outcome.data.empty());
    reply = xftp::reply_to(*request, outcome.status, outcome.data);
  } else {
    FUZZ_CHECK(r.error() == xftp::Status::invalid);
    reply = xftp::reply_to(*request, r.error());
  }
  FUZZ_CHECK(reply.size() >= xftp::kHeaderSize && reply.size() <= xftp::kLegacyDatagram);
  FUZZ_CHECK(reply[0] == xftp::kMagic && reply[2] == request->command);
  FUZZ_CHECK(std::equal(request->id.begin(), request->id.end(), reply.begin() + 3));
  filter.finish(key, reply, std::chrono::steady_clock::time_point(std::chrono::seconds(runs)));
  scratch.check_outside();
  return 0;
}
