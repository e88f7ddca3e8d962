// Value parsers shared by server.xml and the flags, and the host facts (host name, its address,
// local interfaces) that "auto" addresses and the jvmRoute default need.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>

#include "config/config_internal.h"

namespace sessiond::config::internal {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string AddressString(const sockaddr* sa) {
  char text[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof text);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, text, sizeof text);
  return text;
}

class RealHostInfo : public HostInfo {
 public:
  std::string HostName() override {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0) return "";
    return name;
  }

  // Like Java's InetAddress.getByName, which Tomcat uses for address="auto": IPv4 first.
  std::optional<std::string> Resolve(const std::string& host) override {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &list) != 0 || !list) return std::nullopt;
    std::optional<std::string> v4, v6;
    for (addrinfo* ai = list; ai; ai = ai->ai_next) {
      if (ai->ai_family == AF_INET && !v4) v4 = AddressString(ai->ai_addr);
      if (ai->ai_family == AF_INET6 && !v6) v6 = AddressString(ai->ai_addr);
    }
    freeaddrinfo(list);
    return v4 ? v4 : v6;
  }

  bool IsLocalAddress(const std::string& ip) override {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return true;  // cannot tell: do not warn
    bool found = false;
    for (ifaddrs* i = list; i && !found; i = i->ifa_next)
      found = i->ifa_addr && AddressString(i->ifa_addr) == ip;
    freeifaddrs(list);
    return found;
  }
};

HostInfo* g_host_info = nullptr;  // set by tests only, before loading

}  // namespace

HostInfo& CurrentHostInfo() {
  static RealHostInfo real;
  return g_host_info ? *g_host_info : real;
}

void SetHostInfoForTesting(HostInfo* info) { g_host_info = info; }

std::string ShortHostName() {
  std::string name = CurrentHostInfo().HostName();
  name = name.substr(0, name.find('.'));
  return name.empty() ? "localhost" : name;
}

std::string ResolvePath(const std::string& base_dir, const std::string& path) {
  if (path.empty()) return "";
  std::filesystem::path p(path);
  if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
  std::string out = p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string AbsoluteDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(dir.empty() ? "." : dir, ec);
  return ResolvePath("/", ec ? dir : p.string());
}

std::optional<int64_t> ParseInteger(const std::string& text) {
  std::string t = Trim(text);
  if (!t.empty() && t[0] == '+') t.erase(0, 1);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
  return v;
}

std::optional<bool> ParseBoolean(const std::string& text) {
  std::string t = Lower(Trim(text));
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  return std::nullopt;
}

// org.apache.catalina.tribes.Channel's option names (Tomcat 8.5+), joined by ','.
std::optional<int> ParseSendOptions(const std::string& text) {
  constexpr int kKnownBits = 1 | 2 | 4 | 8 | 16 | 32 | 64;
  if (auto n = ParseInteger(text)) {
    if (*n <= 0 || (*n & ~int64_t{kKnownBits}) != 0) return std::nullopt;
    return static_cast<int>(*n);
  }
  static const std::pair<const char*, int> kNames[] = {
      {"asynchronous", 8}, {"async", 8},   {"byte_message", 1}, {"byte", 1},
      {"multicast", 64},   {"secure", 16}, {"synchronized_ack", 4}, {"sync", 4},
      {"udp", 32},         {"use_ack", 2}, {"ack", 2}};
  int bits = 0;
  std::string rest = text;
  while (true) {
    size_t comma = rest.find(',');
    std::string word = Lower(Trim(rest.substr(0, comma)));
    auto it = std::find_if(std::begin(kNames), std::end(kNames),
                           [&](const auto& n) { return word == n.first; });
    if (it == std::end(kNames)) return std::nullopt;
    bits |= it->second;
    if (comma == std::string::npos) break;
    rest = rest.substr(comma + 1);
  }
  return bits;
}

std::optional<std::string> CanonicalLogLevel(const std::string& text) {
  std::optional<LogLevel> level = ParseLogLevel(Lower(Trim(text)));
  if (!level) return std::nullopt;
  static const char* kNames[] = {"debug", "info", "warn", "error"};
  return kNames[static_cast<int>(*level)];
}

bool IsNumericAddress(const std::string& text) {
  in6_addr buf;
  return inet_pton(AF_INET, text.c_str(), &buf) == 1 || inet_pton(AF_INET6, text.c_str(), &buf) == 1;
}

bool IsLoopbackAddress(const std::string& ip) {
  in_addr v4;
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  return inet_pton(AF_INET6, ip.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

std::string ForeignAddressWarning(const std::string& ip) {
  if (!IsNumericAddress(ip) || IsLoopbackAddress(ip) || ip == "0.0.0.0" || ip == "::") return "";
  if (CurrentHostInfo().IsLocalAddress(ip)) return "";
  return "receiver address " + ip +
         " is not an address of this machine (the tutorial's example?); binding will fail "
         "until it is this node's address, \"auto\", or --receiver-address";
}

}  // namespace sessiond::config::internal
