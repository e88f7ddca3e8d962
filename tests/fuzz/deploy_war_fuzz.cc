// Fuzz target: archive bytes through ValidateWar and UnpackWar. The input goes to a temp file; the
// app is unpacked into a temp folder that is removed afterwards. Whatever the bytes, nothing may
// be written outside that folder, and ValidateWar and UnpackWar must agree.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "deploy/deploy.h"

namespace {

// $TMPDIR when set, else /dev/shm when usable, else /tmp. Every input creates, fills and removes
// a folder: on a disk file system (ext4 /tmp) that metadata work held the target to ~150 exec/s,
// on tmpfs it runs at thousands.
std::string ScratchRoot() {
  const char* tmp = std::getenv("TMPDIR");
  if (tmp && *tmp) return tmp;
  if (::access("/dev/shm", W_OK | X_OK) == 0) return "/dev/shm";
  return "/tmp";
}

std::string ScratchDir() {
  static const std::string root = ScratchRoot();
  std::string pattern = root + "/sessiond-war-fuzz-XXXXXX";
  if (!::mkdtemp(pattern.data())) __builtin_trap();
  return pattern;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  const std::string dir = ScratchDir();
  const std::string war = dir + "/in.war";
  FILE* f = std::fopen(war.c_str(), "wb");
  if (!f) __builtin_trap();
  std::fwrite(data, 1, size, f);
  std::fclose(f);

  sessiond::deploy::WarLimits limits;
  limits.max_unpacked_bytes = 8 << 20;  // keep each run fast
  limits.max_entries = 2000;
  sessiond::Status valid = sessiond::deploy::ValidateWar(war, limits);
  sessiond::Status unpacked = sessiond::deploy::UnpackWar(war, dir + "/app", limits);
  if (valid.ok() != unpacked.ok()) __builtin_trap();
  for (const auto& entry : fs::directory_iterator(dir)) {  // only in.war and app may exist
    std::string name = entry.path().filename();
    if (name != "in.war" && name != "app") __builtin_trap();
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
