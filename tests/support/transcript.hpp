// Reader for the golden transcripts in tests/golden/: annotated hex dumps of real sessions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::test {

struct TranscriptEntry {
  bool to_server = false;     // "C>S"
  std::string name;           // "MSG_CHDIR_V2", or "(continuation" for trailing bytes
  bool continuation = false;  // bytes that belong to the previous message (TRANS_OK_V3 ports)
  bool partial = false;       // "!! unparsed trailing bytes": a message cut off by the close
  std::string annotation;     // the rest of the entry line
  std::vector<std::uint8_t> bytes;
};

struct TranscriptConnection {
  std::vector<TranscriptEntry> entries;
  // Every byte each direction sent, in order (continuations included, partial tails not).
  std::vector<std::uint8_t> stream(bool to_server) const;
  std::size_t message_count(bool to_server) const;  // continuations not counted
};

// Control connections only ("=== control connection" sections); data-stream excerpts are skipped.
std::vector<TranscriptConnection> read_transcript(const std::string& path);

std::string golden_path(const std::string& relative);  // under tests/golden

}  // namespace ferry::test
