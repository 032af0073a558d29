#include "support/transcript.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ferry::test {

std::vector<std::uint8_t> TranscriptConnection::stream(bool to_server) const {
  std::vector<std::uint8_t> out;
  for (const auto& e : entries) {
    if (e.to_server == to_server && !e.partial)
      out.insert(out.end(), e.bytes.begin(), e.bytes.end());
  }
  return out;
}

std::size_t TranscriptConnection::message_count(bool to_server) const {
  std::size_t n = 0;
  for (const auto& e : entries) {
    n += (e.to_server == to_server && !e.continuation && !e.partial) ? 1 : 0;
  }
  return n;
}

std::vector<TranscriptConnection> read_transcript(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open transcript " + path);
  std::vector<TranscriptConnection> out;
  bool in_control = false;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("===", 0) == 0) {
      in_control = line.find("control connection") != std::string::npos;
      if (in_control) out.emplace_back();
      continue;
    }
    if (!in_control || line.empty() || line[0] == '#') continue;
    if (line[0] == '[') {
      // "[   0.000] S>C   MSG_CRYPT code=0x06 ..."
      std::istringstream ss(line.substr(line.find(']') + 1));
      TranscriptEntry e;
      std::string dir;
      ss >> dir >> e.name;
      e.to_server = dir == "C>S";
      e.continuation = e.name == "(continuation";
      std::getline(ss, e.annotation);
      out.back().entries.push_back(std::move(e));
      continue;
    }
    if (line.find("!! ") != std::string::npos && !out.empty()) {
      // "   !! 8 unparsed trailing bytes C>S"
      TranscriptEntry e;
      e.partial = true;
      e.to_server = line.find("C>S") != std::string::npos;
      e.name = "(partial";
      out.back().entries.push_back(std::move(e));
      continue;
    }
    // "      0010  00 00 00 07 ...  ascii": offset, then up to 16 hex bytes.
    if (out.empty() || out.back().entries.empty()) continue;
    std::istringstream ss(line);
    std::string offset;
    ss >> offset;
    auto& bytes = out.back().entries.back().bytes;
    const std::size_t hex_start = line.find(offset) + offset.size();
    for (std::size_t i = 0; i < 16; ++i) {
      const std::size_t at = hex_start + 2 + 3 * i;
      if (at + 2 > line.size() || line[at] == ' ') break;
      bytes.push_back(static_cast<std::uint8_t>(std::stoul(line.substr(at, 2), nullptr, 16)));
    }
  }
  return out;
}

std::string golden_path(const std::string& relative) {
  return std::string(FERRY_GOLDEN_DIR) + "/" + relative;
}

}  // namespace ferry::test
