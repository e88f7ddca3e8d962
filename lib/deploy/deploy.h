// deploy: WAR archives — validation, safe unpacking, hashing — and, later, farm deployment.
//
// Thread-safety: free functions; callers run them on a worker (unzip is slow work, never on the
// event loop). Each call touches only its own destination folder.
#pragma once

#include <cstdint>
#include <string>

#include "base/base.h"

namespace sessiond::deploy {

struct WarLimits {
  int64_t max_archive_bytes = 512LL << 20;    ///< the .war file itself
  int64_t max_unpacked_bytes = 2048LL << 20;  ///< sum of entry sizes (zip bombs)
  int64_t max_entries = 100000;
};

/// Checks every entry without writing anything: zip-slip ("../"), absolute paths, drive letters,
/// backslashes, NUL, symlink entries (unix mode), oversize, too many entries and broken archives
/// are kBadRequest naming the archive, the entry and the reason; over a size limit is kTooLarge.
Status ValidateWar(const std::string& war_path, const WarLimits& limits);

/// Validates, then unpacks into a fresh temporary folder beside `dest_dir` and renames it into
/// place (replacing an old `dest_dir` only once the new one is complete), so a failure leaves the
/// old app untouched. Nothing is ever written outside `dest_dir`.
Status UnpackWar(const std::string& war_path, const std::string& dest_dir, const WarLimits& limits);

/// Lower-case hex SHA-256 of a file's bytes.
Result<std::string> Sha256File(const std::string& path);

}  // namespace sessiond::deploy
