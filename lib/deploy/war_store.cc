// The farm's worker thread and its content-addressed WAR store (farm_internal.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "deploy/farm_internal.h"

namespace sessiond::deploy::internal {
namespace fs = std::filesystem;

// ---- SerialWorker ------------------------------------------------------------------------------

SerialWorker::SerialWorker(std::string name) : name_(std::move(name)) {
  thread_ = std::thread([this] { Run(); });
}

SerialWorker::~SerialWorker() { Stop(); }

void SerialWorker::Post(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void SerialWorker::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    jobs_.clear();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SerialWorker::Run() {
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

// ---- WarStore ----------------------------------------------------------------------------------

Status WarStore::Init() const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status::Internal("cannot create " + dir_ + ": " + ec.message());
  return Status::Ok();
}

bool WarStore::Has(const std::string& sha256, uint64_t size) const {
  std::error_code ec;
  return fs::is_regular_file(PathOf(sha256), ec) && fs::file_size(PathOf(sha256), ec) == size;
}

Result<std::string> WarStore::NewTemp() const {
  std::string tmp = dir_ + "/.incoming-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Status::Internal("cannot create a file in " + dir_ + ": " + std::strerror(errno));
  ::close(fd);
  return tmp;
}

Status WarStore::Publish(const std::string& tmp, const std::string& sha256) const {
  Result<std::string> got = Sha256File(tmp);
  std::error_code ec;
  if (!got.ok() || *got != sha256) {
    fs::remove(tmp, ec);
    if (!got.ok()) return got.status();
    return Status::BadRequest("SHA-256 mismatch: received " + *got + ", announced " + sha256);
  }
  if (::rename(tmp.c_str(), PathOf(sha256).c_str()) != 0) {
    int err = errno;
    fs::remove(tmp, ec);
    return Status::Internal("cannot store " + PathOf(sha256) + ": " + std::strerror(err));
  }
  return Status::Ok();
}

Result<AppVersion> WarStore::Put(const std::string& src, bool take_file) const {
  Result<std::string> sha = Sha256File(src);
  if (!sha.ok()) return sha.status();
  std::error_code ec;
  AppVersion v;
  v.sha256 = *sha;
  v.size = fs::file_size(src, ec);
  if (ec) return Status::NotFound(src + ": " + ec.message());
  if (take_file) {
    if (::rename(src.c_str(), PathOf(v.sha256).c_str()) == 0) return v;
  }
  Result<std::string> tmp = NewTemp();
  if (!tmp.ok()) return tmp.status();
  fs::copy_file(src, *tmp, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    fs::remove(*tmp, ec);
    return Status::Internal("cannot copy " + src + " into " + dir_ + ": " + ec.message());
  }
  SESSIOND_RETURN_IF_ERROR(Publish(*tmp, v.sha256));  // hashes again: the source may have changed
  return v;
}

void WarStore::Remove(const std::string& sha256) const {
  std::error_code ec;
  fs::remove(PathOf(sha256), ec);
}

Result<std::string> WarStore::Read(const std::string& sha256, uint64_t offset,
                                   uint32_t length) const {
  int fd = ::open(PathOf(sha256).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound("no stored WAR " + sha256.substr(0, 12));
  std::string out(length, '\0');
  size_t got = 0;
  while (got < length) {
    ssize_t n = ::pread(fd, out.data() + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Status::Internal("read " + PathOf(sha256) + ": " + std::strerror(err));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

}  // namespace sessiond::deploy::internal
