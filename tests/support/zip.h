// Builds zip archives (WARs) at test time with libzip, with exactly the entry names, modes and
// folders given — hostile ones included (zip-slip, absolute paths, symlinks).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sessiond::testing {

struct ZipEntry {
  ZipEntry(std::string n, std::string d = "", std::optional<uint32_t> mode = std::nullopt,
           bool dir = false)
      : name(std::move(n)), data(std::move(d)), unix_mode(mode), is_dir(dir) {}
  std::string name;
  std::string data;
  std::optional<uint32_t> unix_mode;  ///< written as external attributes when set
  bool is_dir = false;
};

/// Writes a zip at `path` with exactly these entries (libzip does not clean the names up).
/// Fails the calling test (gtest ASSERT) when libzip refuses.
void BuildZip(const std::string& path, const std::vector<ZipEntry>& entries);

}  // namespace sessiond::testing
