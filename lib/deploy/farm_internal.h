// deploy internals: the named background worker the farm hands slow work to, and the store of
// WARs by SHA-256 under the data dir.
//
// Thread-safety: SerialWorker::Post is thread-safe; jobs run one at a time, in order, on the
// worker's own thread. WarStore is thread-safe (each call works on its own temporary file and
// publishes by rename).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "deploy/deploy.h"

namespace sessiond::deploy::internal {

/// A thread with a FIFO queue (redis' bio): unzip, hashing and file I/O go here, never to the
/// event loop.
class SerialWorker {
 public:
  explicit SerialWorker(std::string name);
  ~SerialWorker();  ///< Stop()
  /// Queues `job`; dropped after Stop.
  void Post(std::function<void()> job);
  /// Drops what is queued, waits for the running job, joins. Idempotent.
  void Stop();

 private:
  void Run();
  std::string name_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // GUARDED_BY(mu_)
  bool stop_ = false;                       // GUARDED_BY(mu_)
  std::thread thread_;
};

/// DATA/wars/<sha256>.war: content-addressed, so a WAR is stored once whatever its name.
class WarStore {
 public:
  explicit WarStore(std::string dir) : dir_(std::move(dir)) {}
  /// Creates the folder.
  Status Init() const;
  std::string PathOf(const std::string& sha256) const { return dir_ + "/" + sha256 + ".war"; }
  bool Has(const std::string& sha256, uint64_t size) const;
  /// Hashes `src` and publishes it as PathOf(hash): renamed when `take_file` (same file system),
  /// else copied. Returns the hash and the size.
  Result<AppVersion> Put(const std::string& src, bool take_file) const;
  /// A fresh temporary file in the store for a download (the caller writes, then Publish).
  Result<std::string> NewTemp() const;
  /// Checks `tmp` hashes to `sha256` and renames it to PathOf(sha256); removes it otherwise.
  Status Publish(const std::string& tmp, const std::string& sha256) const;
  /// Deletes the WAR (absent is fine).
  void Remove(const std::string& sha256) const;
  /// Reads up to `length` bytes at `offset` of a stored WAR.
  Result<std::string> Read(const std::string& sha256, uint64_t offset, uint32_t length) const;

 private:
  std::string dir_;
};

}  // namespace sessiond::deploy::internal
