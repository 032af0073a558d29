// xftpd's extended-mode connection table on any datagrams from a few addresses (keyed or not, by
// the first byte): HELLOs, requests for made-up and real connections, replays. The table stays
// within its limits; a REQUEST is handed to a worker at most once per ID.
#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

#include "fuzz_check.hpp"
#include "session/xftp/extended_connections.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry;
  if (size < 1) return 0;
  std::optional<std::vector<std::uint8_t>> key;
  if ((data[0] & 1) != 0) key = std::vector<std::uint8_t>(32, 0x5a);
  session::ExtendedLimits limits;
  limits.connections = 8;
  limits.per_source = 3;
  session::ExtendedConnections table(key, limits);
  auto addr = [](int i) {
    auto a = io::resolve("127.0.0." + std::to_string(1 + i % 4),
                         static_cast<std::uint16_t>(4000 + i), true);
    return a->front();
  };
  auto now = std::chrono::steady_clock::time_point{};
  std::set<std::pair<std::string, std::uint32_t>> handed;
  std::size_t at = 1;
  while (at + 3 <= size) {
    const int from = data[at] % 8;
    const std::size_t len = (static_cast<std::size_t>(data[at + 1]) << 8) | data[at + 2];
    at += 3;
    if (len > size - at) break;
    now += std::chrono::seconds(data[at - 3] >> 4);
    auto o =
        table.on_datagram(addr(from), {reinterpret_cast<const std::byte*>(data + at), len}, now);
    at += len;
    FUZZ_CHECK(table.size() <= limits.connections);
    if (o.work) {
      const std::string who(o.work->connection->ours.begin(), o.work->connection->ours.end());
      FUZZ_CHECK(handed.insert({who, o.work->request.id}).second);
      // Answer it, so that a repeat is answered from memory.
      (void)table.reply(*o.work, xftp::ext::Status::ok, std::monostate{});
    }
  }
  return 0;
}
