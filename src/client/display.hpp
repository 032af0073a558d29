// What a terminal shows beside a client's own output while it moves files: both clients' runners
// call these hooks, and the programs wire them to a progress bar (app/progress) when standard
// error is a terminal. Every hook may be empty (nothing is shown).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace ferry::client {

struct TransferDisplay {
  // A transfer of `file` (the local name) begins; its size when already known.
  std::function<void(const std::string& file, std::optional<std::uint64_t> size)> begin;
  // Bytes moved so far; `size` is the file's when known (a download may learn it late).
  std::function<void(std::uint64_t moved, std::optional<std::uint64_t> size)> progress;
  // The transfer is over: `ok` with the bytes moved, else it failed (an error line follows).
  std::function<void(bool ok, std::uint64_t moved)> end;
  // A try failed: the next (`next` of `tries`) comes in `seconds`.
  std::function<void(int seconds, int next, int tries)> waiting;
};

}  // namespace ferry::client
