// WAR archives: validation, safe unpacking and hashing (deploy.h). libzip stays in this file.
//
// Both ValidateWar and UnpackWar decompress every entry: the sizes in a zip's headers are claims
// by whoever built the archive, so the limits are enforced on the bytes actually produced.
// UnpackWar writes only inside a fresh temporary folder it created (openat + O_NOFOLLOW, one
// folder at a time), then swaps it into place.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "deploy/deploy.h"

namespace sessiond::deploy {
namespace {

namespace fs = std::filesystem;

constexpr size_t kChunk = 64 * 1024;
constexpr size_t kMaxNameBytes = 4096;
constexpr size_t kMaxSegmentBytes = 255;

struct ZipDiscard {
  void operator()(zip_t* z) const { zip_discard(z); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipDiscard>;

struct ZipFileClose {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};
using ZipFilePtr = std::unique_ptr<zip_file_t, ZipFileClose>;

/// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { if (fd_ >= 0) ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) { if (fd_ >= 0) ::close(fd_); fd_ = o.fd_; o.fd_ = -1; }
    return *this;
  }
  int get() const { return fd_; }
  int release() { int f = fd_; fd_ = -1; return f; }

 private:
  int fd_;
};

/// One checked entry: its normalised relative path ("a/b.html"), never "..", never absolute.
struct Entry {
  zip_uint64_t index = 0;
  std::string path;
  bool is_dir = false;
  uint64_t declared_size = 0;
  time_t mtime = 0;
};

std::string Label(const std::string& war_path) { return fs::path(war_path).filename().string(); }

Status Bad(const std::string& war, std::string_view entry, std::string_view reason) {
  return Status::BadRequest(war + ": entry " + std::string(entry) + ": " + std::string(reason));
}

std::string ErrnoText(int err) { return std::strerror(err); }

Status CheckRawNames(const std::string& war_path, const std::string& war);

/// Opens the archive after checking its size on disk; a truncated or foreign file is kBadRequest.
Result<ZipPtr> OpenArchive(const std::string& war_path, const WarLimits& limits) {
  const std::string war = Label(war_path);
  struct stat st {};
  if (::stat(war_path.c_str(), &st) != 0)
    return Status::NotFound(war + ": cannot read: " + ErrnoText(errno));
  if (!S_ISREG(st.st_mode)) return Status::BadRequest(war + ": not a regular file");
  if (st.st_size > limits.max_archive_bytes)
    return Status::TooLarge(war + ": archive is " + std::to_string(st.st_size) +
                            " bytes, over the limit of " + std::to_string(limits.max_archive_bytes));
  int code = 0;
  // No ZIP_CHECKCONS: it rejects valid archives written with data descriptors (jar, libarchive,
  // streaming zip writers). Damage still shows: no central directory is ZIP_ER_NOZIP/INCONS,
  // and every entry is decompressed and CRC-checked before anything is deployed.
  zip_t* z = zip_open(war_path.c_str(), ZIP_RDONLY, &code);
  if (z) {
    ZipPtr archive(z);
    SESSIOND_RETURN_IF_ERROR(CheckRawNames(war_path, war));
    return archive;
  }
  if (code == ZIP_ER_NOZIP) return Status::BadRequest(war + ": not a zip archive");
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string why = zip_error_strerror(&error);
  zip_error_fini(&error);
  return Status::BadRequest(war + ": broken archive: " + why);
}

uint64_t Le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

bool ReadAt(int fd, void* buf, size_t len, uint64_t offset) {
  return ::pread(fd, buf, len, static_cast<off_t>(offset)) == static_cast<ssize_t>(len);
}

/// Where the central directory is (offset, size), from the end records; nullopt when it cannot be
/// found this simply (libzip, which opened the archive, stays the judge of its structure).
std::optional<std::pair<uint64_t, uint64_t>> FindCentralDirectory(int fd, uint64_t file_size) {
  size_t tail_len = static_cast<size_t>(std::min<uint64_t>(file_size, 65535 + 22));
  std::vector<unsigned char> tail(tail_len);
  if (tail_len < 22 || !ReadAt(fd, tail.data(), tail_len, file_size - tail_len)) return std::nullopt;
  size_t pos = tail_len - 22;
  while (Le(&tail[pos], 4) != 0x06054b50) {
    if (pos == 0) return std::nullopt;
    --pos;
  }
  uint64_t cd_size = Le(&tail[pos + 12], 4), cd_offset = Le(&tail[pos + 16], 4);
  if (cd_offset == 0xffffffff || cd_size == 0xffffffff) {  // zip64: ask the zip64 end record
    unsigned char locator[20], end64[56];
    if (pos < 20) return std::nullopt;
    std::memcpy(locator, &tail[pos - 20], 20);
    if (Le(locator, 4) != 0x07064b50) return std::nullopt;
    if (!ReadAt(fd, end64, sizeof end64, Le(locator + 8, 8)) || Le(end64, 4) != 0x06064b50)
      return std::nullopt;
    cd_size = Le(end64 + 40, 8);
    cd_offset = Le(end64 + 48, 8);
  }
  if (cd_offset > file_size || cd_size > file_size - cd_offset) return std::nullopt;
  return std::make_pair(cd_offset, cd_size);
}

/// libzip turns NUL bytes in entry names into spaces as it reads them, so "a\0.png" would be
/// deployed under a name that other tools do not show. The raw names in the central directory
/// are read here, one header at a time, and a NUL is refused.
Status CheckRawNames(const std::string& war_path, const std::string& war) {
  Fd fd(::open(war_path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) return Status::Ok();
  auto cd = FindCentralDirectory(fd.get(), static_cast<uint64_t>(st.st_size));
  if (!cd) return Status::Ok();
  uint64_t at = cd->first, end = cd->first + cd->second;
  unsigned char header[46];
  std::string name;
  while (at + sizeof header <= end && ReadAt(fd.get(), header, sizeof header, at) &&
         Le(header, 4) == 0x02014b50) {
    size_t name_len = Le(header + 28, 2);
    name.resize(name_len);
    if (!ReadAt(fd.get(), name.data(), name_len, at + sizeof header)) break;
    if (name.find('\0') != std::string::npos) {
      std::replace(name.begin(), name.end(), '\0', '?');
      return Bad(war, name, "NUL byte in name");
    }
    at += sizeof header + name_len + Le(header + 30, 2) + Le(header + 32, 2);
  }
  return Status::Ok();
}

/// Turns an entry name into a safe relative path, or says why it is refused.
Result<std::string> NormaliseName(const std::string& war, const std::string& name) {
  if (name.empty()) return Bad(war, "\"\"", "empty name");
  if (name.size() > kMaxNameBytes) return Bad(war, name.substr(0, 64) + "…", "name too long");
  if (name.find('\\') != std::string::npos) return Bad(war, name, "backslash in name");
  if (name[0] == '/') return Bad(war, name, "absolute path");
  if (name.size() >= 2 && name[1] == ':' && std::isalpha(static_cast<unsigned char>(name[0])))
    return Bad(war, name, "drive letter");
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) return Bad(war, name, "control character in name");
  std::string out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string seg = name.substr(start, end - start);
    start = end + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") return Bad(war, name, "path escapes the app (\"..\")");
    if (seg.size() > kMaxSegmentBytes) return Bad(war, name, "path segment too long");
    if (!out.empty()) out += '/';
    out += seg;
  }
  return out;  // "" for "./": the caller accepts that only for a folder entry
}

/// Refuses links, devices and fifos recorded in unix external attributes (zip symlink entries).
Status CheckFileType(zip_t* z, zip_uint64_t i, const std::string& war, const std::string& name) {
  zip_uint8_t opsys = 0;
  zip_uint32_t attributes = 0;
  if (zip_file_get_external_attributes(z, i, 0, &opsys, &attributes) != 0)
    return Bad(war, name, "unreadable attributes");
  if (opsys != ZIP_OPSYS_UNIX) return Status::Ok();
  mode_t mode = attributes >> 16;
  if (S_ISLNK(mode)) return Bad(war, name, "symbolic link entries are not allowed");
  mode_t type = mode & S_IFMT;
  if (type != 0 && type != S_IFREG && type != S_IFDIR)
    return Bad(war, name, "special file entries are not allowed");
  return Status::Ok();
}

/// Reads one entry's header: name, type, declared size, encryption and compression method.
Result<Entry> ReadEntry(zip_t* z, zip_uint64_t i, const std::string& war) {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(z, i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME))
    return Status::BadRequest(war + ": entry #" + std::to_string(i) + ": " + zip_strerror(z));
  const std::string name = st.name;
  Result<std::string> path = NormaliseName(war, name);
  if (!path.ok()) return path.status();
  SESSIOND_RETURN_IF_ERROR(CheckFileType(z, i, war, name));
  Entry e;
  e.index = i;
  e.path = std::move(*path);
  e.is_dir = name.back() == '/';
  if (e.path.empty() && !e.is_dir) return Bad(war, name, "names the app folder itself");
  e.declared_size = (st.valid & ZIP_STAT_SIZE) ? st.size : 0;
  e.mtime = (st.valid & ZIP_STAT_MTIME) ? st.mtime : 0;
  if (e.is_dir) return e;
  if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
    return Bad(war, name, "encrypted entries are not supported");
  if ((st.valid & ZIP_STAT_COMP_METHOD) && !zip_compression_method_supported(st.comp_method, 0))
    return Bad(war, name, "unsupported compression method " + std::to_string(st.comp_method));
  return e;
}

/// Duplicate paths, and paths below a file ("a" and "a/b"), would make the result depend on the
/// order of extraction; both are refused.
Status CheckTree(const std::vector<Entry>& entries, const std::string& war) {
  std::set<std::string> files, dirs;
  for (const Entry& e : entries) {
    if (files.count(e.path)) return Bad(war, e.path, "duplicate entry");
    if (e.is_dir) {
      dirs.insert(e.path);
    } else {
      if (dirs.count(e.path)) return Bad(war, e.path, "duplicate entry (also a folder)");
      files.insert(e.path);
    }
    for (size_t slash = e.path.find('/'); slash != std::string::npos;
         slash = e.path.find('/', slash + 1))
      dirs.insert(e.path.substr(0, slash));
  }
  for (const std::string& d : dirs)
    if (files.count(d)) return Bad(war, d, "is a file and also has entries below it");
  return Status::Ok();
}

/// Reads the central directory and checks every header; decompresses nothing.
Result<std::vector<Entry>> CheckHeaders(zip_t* z, const std::string& war, const WarLimits& limits) {
  zip_int64_t n = zip_get_num_entries(z, 0);
  if (n < 0) return Status::BadRequest(war + ": broken archive: " + zip_strerror(z));
  if (n > limits.max_entries)
    return Status::BadRequest(war + ": " + std::to_string(n) + " entries, over the limit of " +
                              std::to_string(limits.max_entries));
  std::vector<Entry> entries;
  uint64_t declared_total = 0;
  for (zip_int64_t i = 0; i < n; ++i) {
    Result<Entry> e = ReadEntry(z, static_cast<zip_uint64_t>(i), war);
    if (!e.ok()) return e.status();
    if (e->path.empty()) continue;  // "./": the app folder itself
    declared_total += e->declared_size;
    if (e->declared_size > static_cast<uint64_t>(limits.max_unpacked_bytes) ||
        declared_total > static_cast<uint64_t>(limits.max_unpacked_bytes))
      return Status::TooLarge(war + ": entry " + e->path + ": unpacked size over the limit of " +
                              std::to_string(limits.max_unpacked_bytes) + " bytes");
    entries.push_back(std::move(*e));
  }
  SESSIOND_RETURN_IF_ERROR(CheckTree(entries, war));
  return entries;
}

/// Decompresses one file entry into `out_fd` (or nowhere when -1), counting real bytes against
/// the declared size and the running total: a header that lies about sizes is caught here.
Status Extract(zip_t* z, const Entry& e, int out_fd, const std::string& war,
               const WarLimits& limits, uint64_t* total) {
  ZipFilePtr f(zip_fopen_index(z, e.index, 0));
  if (!f) return Bad(war, e.path, std::string("cannot open: ") + zip_strerror(z));
  std::vector<char> buf(kChunk);
  uint64_t written = 0;
  for (;;) {
    zip_int64_t got = zip_fread(f.get(), buf.data(), buf.size());
    if (got < 0) return Bad(war, e.path, std::string("broken data: ") + zip_file_strerror(f.get()));
    if (got == 0) break;
    written += static_cast<uint64_t>(got);
    *total += static_cast<uint64_t>(got);
    if (written > e.declared_size)
      return Bad(war, e.path, "more data than its header declares (zip bomb?)");
    if (*total > static_cast<uint64_t>(limits.max_unpacked_bytes))
      return Status::TooLarge(war + ": entry " + e.path + ": unpacked size over the limit of " +
                              std::to_string(limits.max_unpacked_bytes) + " bytes");
    for (zip_int64_t off = 0; out_fd >= 0 && off < got;) {
      ssize_t w = ::write(out_fd, buf.data() + off, static_cast<size_t>(got - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Status::Internal(war + ": entry " + e.path + ": write: " + ErrnoText(errno));
      off += w;
    }
  }
  if (written != e.declared_size) return Bad(war, e.path, "less data than its header declares");
  return Status::Ok();
}

/// Opens (creating when missing) each folder of `rel_dir` below `root_fd`, one at a time, never
/// following a symlink. Returns the innermost folder's descriptor.
Result<Fd> OpenDirs(int root_fd, const std::string& rel_dir, const std::string& war) {
  Fd current(::dup(root_fd));
  if (current.get() < 0) return Status::Internal(war + ": dup: " + ErrnoText(errno));
  size_t start = 0;
  while (start < rel_dir.size()) {
    size_t end = rel_dir.find('/', start);
    if (end == std::string::npos) end = rel_dir.size();
    std::string seg = rel_dir.substr(start, end - start);
    start = end + 1;
    if (::mkdirat(current.get(), seg.c_str(), 0755) != 0 && errno != EEXIST)
      return Status::Internal(war + ": mkdir " + rel_dir + ": " + ErrnoText(errno));
    Fd next(::openat(current.get(), seg.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (next.get() < 0) return Status::Internal(war + ": open " + rel_dir + ": " + ErrnoText(errno));
    current = Fd(next.release());
  }
  return current;
}

Status WriteEntry(zip_t* z, const Entry& e, int root_fd, const std::string& war,
                  const WarLimits& limits, uint64_t* total) {
  size_t slash = e.path.rfind('/');
  std::string dir = e.is_dir ? e.path : (slash == std::string::npos ? "" : e.path.substr(0, slash));
  Result<Fd> dir_fd = OpenDirs(root_fd, dir, war);
  if (!dir_fd.ok()) return dir_fd.status();
  if (e.is_dir) return Status::Ok();
  std::string base = slash == std::string::npos ? e.path : e.path.substr(slash + 1);
  Fd out(::openat(dir_fd->get(), base.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (out.get() < 0) return Status::Internal(war + ": create " + e.path + ": " + ErrnoText(errno));
  SESSIOND_RETURN_IF_ERROR(Extract(z, e, out.get(), war, limits, total));
  if (e.mtime > 0) {  // the archive's times, so every node of a farm serves the same ETags
    struct timespec times[2] = {{e.mtime, 0}, {e.mtime, 0}};
    ::futimens(out.get(), times);
  }
  return Status::Ok();
}

/// Everything ValidateWar checks, on an open archive; returns the checked entries.
Result<std::vector<Entry>> Validate(zip_t* z, const std::string& war, const WarLimits& limits) {
  Result<std::vector<Entry>> entries = CheckHeaders(z, war, limits);
  if (!entries.ok()) return entries.status();
  uint64_t total = 0;
  for (const Entry& e : *entries)
    if (!e.is_dir) SESSIOND_RETURN_IF_ERROR(Extract(z, e, -1, war, limits, &total));
  return entries;
}

/// Puts the finished `tmp` folder at `dest`: an atomic exchange when an old app is there.
Status SwapIntoPlace(const std::string& tmp, const std::string& dest, const std::string& war) {
  struct stat st {};
  if (::lstat(dest.c_str(), &st) != 0) {
    if (::rename(tmp.c_str(), dest.c_str()) != 0)
      return Status::Internal(war + ": rename into " + dest + ": " + ErrnoText(errno));
    return Status::Ok();
  }
  if (!S_ISDIR(st.st_mode)) return Status::Conflict(war + ": " + dest + " exists and is not a folder");
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dest.c_str(), RENAME_EXCHANGE) == 0) {
    std::error_code ec;  // `tmp` now holds the old app
    fs::remove_all(tmp, ec);
    return Status::Ok();
  }
  // No RENAME_EXCHANGE (old kernel or filesystem): move the old app aside, then the new one in.
  std::string old = tmp + ".old";
  if (::rename(dest.c_str(), old.c_str()) != 0)
    return Status::Internal(war + ": rename " + dest + ": " + ErrnoText(errno));
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {
    int err = errno;
    ::rename(old.c_str(), dest.c_str());
    return Status::Internal(war + ": rename into " + dest + ": " + ErrnoText(err));
  }
  std::error_code ec;
  fs::remove_all(old, ec);
  return Status::Ok();
}

/// Extracts every entry into the fresh folder `tmp` (which the caller removes on failure).
Status ExtractAll(zip_t* z, const std::vector<Entry>& entries, const std::string& tmp,
                  const std::string& war, const WarLimits& limits) {
  Fd root(::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (root.get() < 0) return Status::Internal(war + ": open " + tmp + ": " + ErrnoText(errno));
  uint64_t total = 0;
  for (const Entry& e : entries)
    SESSIOND_RETURN_IF_ERROR(WriteEntry(z, e, root.get(), war, limits, &total));
  return Status::Ok();
}

}  // namespace

Status ValidateWar(const std::string& war_path, const WarLimits& limits) {
  Result<ZipPtr> z = OpenArchive(war_path, limits);
  if (!z.ok()) return z.status();
  return Validate(z->get(), Label(war_path), limits).status();
}

namespace {

/// Writes the marker into the fresh folder before it is swapped in, so a folder in place always
/// carries the hash of what it holds.
Status WriteMarker(const std::string& dir, const std::string& sha256, const std::string& war) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "META-INF", ec);
  std::string path = (fs::path(dir) / kWarMarkerFile).string();
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (fd.get() < 0 || ::write(fd.get(), sha256.data(), sha256.size()) != ssize_t(sha256.size()))
    return Status::Internal(war + ": cannot write " + path + ": " + ErrnoText(errno));
  return Status::Ok();
}

/// UnpackWar, writing the marker of `sha256` (when not empty) before the swap.
Status Unpack(const std::string& war_path, const std::string& dest_dir, const WarLimits& limits,
              const std::string& sha256) {
  const std::string war = Label(war_path);
  Result<ZipPtr> z = OpenArchive(war_path, limits);
  if (!z.ok()) return z.status();
  // Headers only: the data is checked while it is written, into a folder that a failure removes.
  Result<std::vector<Entry>> entries = CheckHeaders(z->get(), war, limits);
  if (!entries.ok()) return entries.status();

  fs::path dest = fs::path(dest_dir).lexically_normal();
  if (dest.filename().empty()) dest = dest.parent_path();  // "webapps/app/" -> "webapps/app"
  std::string tmp = (dest.parent_path() / ("." + dest.filename().string() + ".unpack-XXXXXX")).string();
  if (!::mkdtemp(tmp.data()))
    return Status::Internal(war + ": cannot create a folder beside " + dest.string() + ": " +
                            ErrnoText(errno));
  Status s = ExtractAll(z->get(), *entries, tmp, war, limits);
  if (s.ok() && !sha256.empty()) s = WriteMarker(tmp, sha256, war);
  if (s.ok()) s = SwapIntoPlace(tmp, dest.string(), war);
  if (!s.ok()) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
  }
  return s;
}

}  // namespace

Status UnpackWar(const std::string& war_path, const std::string& dest_dir, const WarLimits& limits) {
  return Unpack(war_path, dest_dir, limits, "");
}

std::string ReadWarMarker(const std::string& dir) {
  Fd fd(::open((fs::path(dir) / kWarMarkerFile).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) return "";
  char buf[128];
  ssize_t got = ::read(fd.get(), buf, sizeof buf);
  return got > 0 ? std::string(buf, static_cast<size_t>(got)) : "";
}

Status UnpackWarMarked(const std::string& war_path, const std::string& sha256,
                       const std::string& dest_dir, const WarLimits& limits) {
  if (!sha256.empty() && ReadWarMarker(dest_dir) == sha256) return Status::Ok();
  return Unpack(war_path, dest_dir, limits, sha256);
}

Result<std::string> Sha256File(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Status::NotFound(path + ": " + ErrnoText(errno));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    return Status::Internal("sha256: cannot initialise");
  std::vector<char> buf(kChunk);
  for (;;) {
    ssize_t got = ::read(fd.get(), buf.data(), buf.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Status::Internal(path + ": read: " + ErrnoText(errno));
    if (got == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(got));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) return Status::Internal("sha256: final");
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

}  // namespace sessiond::deploy
