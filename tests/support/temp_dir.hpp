// A throw-away directory for one test, removed with everything in it afterwards.
#pragma once

#include <string>
#include <string_view>

namespace ferry::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const noexcept { return path_; }
  std::string operator/(std::string_view rel) const { return path_ + "/" + std::string(rel); }

 private:
  std::string path_;
};

// Small file helpers for setting up fixtures (tests only; the project goes through storage).
void write_file(const std::string& path, std::string_view content);
std::string read_file(const std::string& path);
bool exists(const std::string& path);  // without following a final symlink

}  // namespace ferry::test
