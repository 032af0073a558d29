// AtomicWriter: a file that appears under its final name only when complete.
//
// Data goes to a temporary that no reader can mistake for the result (an O_TMPFILE with no name
// at all, or a hidden ".<name>.ferry-part" next to the target), and commit() moves it into place
// with one rename. A writer that is killed, aborted or destroyed uncommitted never leaves anything
// under the final name.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/unique_fd.hpp"
#include "storage/error.hpp"
#include "storage/file.hpp"

namespace ferry::storage {

enum class Collision {
  replace,    // an existing file is replaced at commit (refused up front if it is not writable)
  exclusive,  // the name must not exist; it is reserved while we write, so a second exclusive
              // writer fails at once with Errc::exists rather than at the end
};

struct WriteOptions {
  Collision collision = Collision::replace;
  mode_t mode = 0666;             // before the session umask; applied at commit
  bool exact_mode = false;        // apply `mode` as is (bbftp keepmode), not masked by the umask
  std::uint64_t preallocate = 0;  // bytes to reserve up front (fallocate), 0 for none
  bool sync = false;              // fsync the data before the rename and the directory after
  // Keep the temporary as partial data for resume (partial.hpp: ".ferry-partial.NAME" and its
  // record): a later resumable writer of the same name gets its bytes back (resume_size(),
  // load_record()). Kept when aborted or destroyed, unless abort(Partial::drop).
  bool resumable = false;
};

enum class Partial { drop, keep };

class AtomicWriter {
 public:
  AtomicWriter(AtomicWriter&& o) noexcept;
  AtomicWriter& operator=(AtomicWriter&&) noexcept;
  ~AtomicWriter();

  const File& file() const noexcept { return file_; }
  int fd() const noexcept { return file_.fd(); }
  Result<void> pwrite_all(Bytes data, std::uint64_t offset) const {
    return file_.pwrite_all(data, offset);
  }
  bool resumable() const noexcept { return options_.resumable; }
  // Size of the temporary found when this writer was opened (resumable writers only), else 0.
  std::uint64_t resume_size() const noexcept { return resume_size_; }
  // Resumable writers: the record beside the partial data. Saved whole or not at all (a new
  // copy renamed over the old); loaded as found (nothing when there is none, or it is larger
  // than `max_bytes`); removed at commit and when the partial data is dropped.
  Result<void> save_record(Bytes record) const;
  std::optional<std::vector<std::uint8_t>> load_record(std::size_t max_bytes = 4 << 20) const;
  // The record as it is, opened for appending (its journal: partial_record.hpp).
  Result<File> open_record_for_append() const;
  // Starts the partial data over: empty (preallocated again), without a record (what it held is
  // of no use).
  Result<void> discard_partial();

  // Access and modification times for the result (bbftp keepaccess), set before it appears.
  Result<void> set_times(std::int64_t atime, std::int64_t mtime) const;

  // Applies the mode, syncs if asked, and renames into place. Errors: exists (exclusive and the
  // name appeared meanwhile), no_space, io. On error the temporary is dropped (or kept, resumable).
  Result<void> commit();
  // Gives up: nothing appears under the final name; the temporary is dropped or kept for resume.
  void abort(Partial partial = Partial::drop) noexcept;

 private:
  friend class Sandbox;
  struct Target {
    UniqueFd dir;       // O_PATH descriptor of the target's directory
    std::string leaf;   // final name in `dir`
    std::string shown;  // path for error messages
  };
  static Result<AtomicWriter> open(Target target, const WriteOptions& options, mode_t umask);
  AtomicWriter(Target target, const WriteOptions& options, mode_t final_mode)
      : target_(std::move(target)), options_(options), final_mode_(final_mode) {}

  Result<void> open_anonymous();
  Result<void> open_reserved();
  // Reserves options_.preallocate bytes (the final size, so that streams can write anywhere).
  Result<void> preallocate() const;
  Result<void> move_into_place();
  void drop_temp() noexcept;
  void drop_record() const noexcept;

  Target target_;
  WriteOptions options_;
  mode_t final_mode_ = 0644;
  File file_;
  std::string temp_name_;  // empty for an anonymous (O_TMPFILE) temporary
  std::uint64_t resume_size_ = 0;
  bool done_ = false;
};

// The hidden name a reserved temporary of `leaf` uses (public for tests and resume tools).
std::string reserved_temp_name(std::string_view leaf);

}  // namespace ferry::storage
