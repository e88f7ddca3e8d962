// Tiny blocking HTTP/1.1 client pieces shared by the bench tools (not a general client: enough
// to read one response with Content-Length or chunked encoding from a keep-alive connection).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace bench {

inline int Connect(const char* host, int port, bool nodelay = true) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
    ::close(fd);
    errno = EINVAL;
    return -1;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  int one = 1;
  if (nodelay) ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

inline bool SendAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads one response from fd; `buf` keeps bytes beyond it for the next call.
// Returns the status code, or -1 on EOF/error. `close_after` tells whether the server said close.
class ResponseReader {
 public:
  int Read(int fd, bool* close_after = nullptr) {
    size_t hdr_end;
    while ((hdr_end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!Fill(fd)) return -1;
    std::string head = buf_.substr(0, hdr_end);
    buf_.erase(0, hdr_end + 4);
    int status = 0;
    if (head.size() < 12 || std::sscanf(head.c_str(), "HTTP/1.%*d %d", &status) != 1) return -1;
    std::string lower = head;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (close_after) *close_after = lower.find("\r\nconnection: close") != std::string::npos;
    size_t p = lower.find("\r\ncontent-length:");
    if (p != std::string::npos) {
      size_t len = std::strtoul(lower.c_str() + p + 17, nullptr, 10);
      while (buf_.size() < len)
        if (!Fill(fd)) return -1;
      buf_.erase(0, len);
    } else if (lower.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
      for (;;) {
        size_t eol;
        while ((eol = buf_.find("\r\n")) == std::string::npos)
          if (!Fill(fd)) return -1;
        size_t len = std::strtoul(buf_.c_str(), nullptr, 16);
        buf_.erase(0, eol + 2);
        while (buf_.size() < len + 2)
          if (!Fill(fd)) return -1;
        buf_.erase(0, len + 2);
        if (len == 0) break;  // (no trailers expected)
      }
    }
    return status;
  }

 private:
  bool Fill(int fd) {
    char tmp[16384];
    for (;;) {
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
  }
  std::string buf_;
};

}  // namespace bench
