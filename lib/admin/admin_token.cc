// The admin token file: read it, or make one that only this user can read.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "admin/admin.h"

namespace sessiond::admin {

namespace {

constexpr size_t kTokenBytes = 32;

Status Errno(const std::string& what, const std::string& path) {
  return Status::Internal(what + " " + path + ": " + std::strerror(errno));
}

std::string Trim(std::string s) {
  const char* ws = " \t\r\n";
  size_t begin = s.find_first_not_of(ws);
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(ws) - begin + 1);
}

// Creates the parent folder (0700, one level) when it is missing; an existing one is left as is.
Status EnsureParent(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return Status::Ok();
  std::string dir = path.substr(0, slash);
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return Status::Ok();
  return Errno("cannot create folder", dir);
}

Result<TokenFile> ReadToken(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Errno("cannot stat", path);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > 64 * 1024) return Status::BadRequest("token file " + path + " is too big");
  }
  if (n < 0) return Errno("cannot read", path);
  TokenFile out;
  out.token = Trim(std::move(text));
  if (out.token.empty()) return Status::BadRequest("token file " + path + " is empty");
  out.too_open = (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
  return out;
}

Result<TokenFile> CreateToken(const std::string& path) {
  SESSIOND_RETURN_IF_ERROR(EnsureParent(path));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", path);
  TokenFile out;
  out.token = HexEncode(RandomBytes(kTokenBytes));
  out.created = true;
  std::string text = out.token + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());  // never leave a half-written token behind
    errno = saved;
    return Errno("cannot write", path);
  }
  return out;
}

}  // namespace

Result<TokenFile> LoadOrCreateToken(const std::string& token_file) {
  if (token_file.empty()) return Status::BadRequest("no admin token file given");
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = ::open(token_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      Result<TokenFile> token = ReadToken(fd, token_file);
      ::close(fd);
      return token;
    }
    if (errno != ENOENT) return Errno("cannot open", token_file);
    Result<TokenFile> created = CreateToken(token_file);
    // Lost a race with another process creating it: read theirs.
    if (created.ok() || errno != EEXIST) return created;
  }
  return Status::Internal("cannot open or create " + token_file);
}

}  // namespace sessiond::admin
