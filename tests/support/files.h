// Test support: scratch folders and whole-file reads/writes.
#pragma once

#include <string>

namespace sessiond::testing {

/// A fresh folder under $TMPDIR, removed (recursively) when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  /// path() + "/" + rel
  std::string Path(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path);
/// Writes `content`, creating parent folders.
void WriteFile(const std::string& path, const std::string& content);
/// The test data folder (tests/data) + "/" + rel.
std::string TestData(const std::string& rel);

}  // namespace sessiond::testing
