// The watchDir scanner (Tomcat's FarmWarDeployer watchEnabled): a WAR dropped into watchDir is
// farm-deployed once it is complete, and removing it undeploys the app everywhere.
//
// "Complete": the file's size and mtime are unchanged over two scans in a row (watch_interval_ms
// apart), so a copy still being written is never taken; a rename into place is picked up after
// the same wait. Files starting with "." are ignored (a copy written as .app.war then renamed).
// At start, a WAR whose hash the registry already serves is marked handled, not redeployed.
#include <sys/stat.h>

#include <filesystem>

#include "deploy/farm_impl.h"

namespace sessiond::deploy {
namespace fs = std::filesystem;

namespace {

constexpr int kStableScans = 2;

std::string AppNameOfWar(const std::string& file) { return file.substr(0, file.size() - 4); }

}  // namespace

Status FarmDeployer::Impl::StartWatcher() {
  if (options.watch_dir.empty()) return Status::Ok();
  std::error_code ec;
  fs::create_directories(options.watch_dir, ec);
  if (ec) return Status::Internal("watchDir " + options.watch_dir + ": " + ec.message());
  // What is there already and served in that version counts as handled.
  AppList apps = LocalApps();
  for (const auto& entry : fs::directory_iterator(options.watch_dir, ec)) {
    std::string file = entry.path().filename().string();
    if (file.empty() || file[0] == '.' || !file.ends_with(".war") || !entry.is_regular_file()) continue;
    Result<std::string> sha = Sha256File(entry.path().string());
    for (const AppVersion& a : apps) {
      if (sha.ok() && a.name == AppNameOfWar(file) && a.sha256 == *sha) {
        struct stat st {};
        ::stat(entry.path().c_str(), &st);
        seen_[file] = {static_cast<uint64_t>(st.st_size),
                       st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, kStableScans, true};
      }
    }
  }
  watcher_ = std::thread([this] { WatchLoop(); });
  return Status::Ok();
}

void FarmDeployer::Impl::StopWatcher() {
  {
    std::lock_guard lock(watch_mu_);
    watch_stop_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

void FarmDeployer::Impl::WatchLoop() {
  pthread_setname_np(pthread_self(), "farm-watch");
  std::unique_lock lock(watch_mu_);
  while (!watch_stop_) {
    watch_cv_.wait_for(lock, std::chrono::milliseconds(options.watch_interval_ms),
                       [&] { return watch_stop_; });
    if (watch_stop_) break;
    lock.unlock();
    ScanWatchDir();
    lock.lock();
  }
}

/// One scan: deploy files that became stable in a new size+mtime, undeploy the apps whose
/// handled file went away.
void FarmDeployer::Impl::ScanWatchDir() {
  std::error_code ec;
  std::set<std::string> present;
  for (const auto& entry : fs::directory_iterator(options.watch_dir, ec)) {
    std::string file = entry.path().filename().string();
    if (file.empty() || file[0] == '.' || !file.ends_with(".war") || !entry.is_regular_file(ec)) continue;
    struct stat st {};
    if (::stat(entry.path().c_str(), &st) != 0) continue;
    present.insert(file);
    uint64_t size = static_cast<uint64_t>(st.st_size);
    int64_t mtime = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    Seen& s = seen_[file];
    if (s.size != size || s.mtime_ns != mtime) {
      s = {size, mtime, 0, false};  // changed (or new): start counting again
      continue;
    }
    if (s.handled || ++s.stable_scans < kStableScans) continue;
    s.handled = true;
    std::string name = AppNameOfWar(file);
    Result<FarmReport> r = Deploy(name, entry.path().string(), /*take_file=*/false, "watch", 0);
    if (!r.ok()) {
      Event("watchDir: " + file + " not deployed: " + r.status().message(), {{"file", file}});
    }
  }
  for (auto it = seen_.begin(); it != seen_.end();) {
    if (present.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.handled) {
      std::string name = AppNameOfWar(it->first);
      Result<FarmReport> r = Undeploy(name, 0);
      if (!r.ok() && r.status().code() != Code::kNotFound) {
        Event("watchDir: undeploy of " + name + " failed: " + r.status().message(), {{"app", name}});
      }
    }
    it = seen_.erase(it);
  }
}

}  // namespace sessiond::deploy
