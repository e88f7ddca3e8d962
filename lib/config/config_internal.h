// config internals shared by the module's .cc files: a small XML tree of our own (so pugixml stays
// inside xml_reader.cc), the loader that walks it, value parsers, and the host facts that loading
// reads (host name, its address, local interfaces) behind an interface tests and fuzzers replace.
//
// Thread-safety: Loader and Attrs are single-use values on one thread. The HostInfo hook is a
// process-wide pointer, set only by tests before any loading starts.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"

namespace sessiond::config::internal {

// ---- the XML tree ------------------------------------------------------------------------

struct XmlAttr {
  std::string name, value;
  int line = 0;  ///< line of the attribute's name (1-based)
};

/// An element with its attributes and child elements (text, comments and PIs are dropped).
struct XmlElement {
  std::string name;
  int line = 0;  ///< line of the '<' that opens it
  std::vector<XmlAttr> attrs;
  std::vector<XmlElement> children;
};

/// Parses `xml` (UTF-8) and returns its root element. Malformed input is kBadRequest
/// "LABEL:LINE:COL: message", with a hint (`&quot;`, `&lt;`, …) when the cause is recognisable.
Result<XmlElement> ParseXmlDocument(const std::string& xml, const std::string& label);

/// 1-based line and column (in characters, not bytes) of byte `offset` in `text`.
std::pair<int, int> LineColumnOf(const std::string& text, size_t offset);

// ---- host facts --------------------------------------------------------------------------

/// What loading asks the machine. The real one calls gethostname/getaddrinfo/getifaddrs.
class HostInfo {
 public:
  virtual ~HostInfo() = default;
  /// The full host name (gethostname); "" when it cannot be read.
  virtual std::string HostName() = 0;
  /// The first address `host` resolves to (IPv4 preferred), nullopt when it does not resolve.
  virtual std::optional<std::string> Resolve(const std::string& host) = 0;
  /// True when `ip` is assigned to an interface of this machine.
  virtual bool IsLocalAddress(const std::string& ip) = 0;
};

/// The host facts in use (the real machine unless a test replaced them).
HostInfo& CurrentHostInfo();
/// Replaces the host facts; nullptr restores the real ones. Tests and fuzzers only, before loading.
void SetHostInfoForTesting(HostInfo* info);

/// The host name up to its first '.', "localhost" when there is none.
std::string ShortHostName();

// ---- values ------------------------------------------------------------------------------

/// `path` made absolute against `base_dir` (absolute kept), normalised, without a trailing '/'.
/// "" stays "".
std::string ResolvePath(const std::string& base_dir, const std::string& path);
/// `dir` made absolute against the working directory ("" = the working directory), normalised.
std::string AbsoluteDir(const std::string& dir);
std::optional<int64_t> ParseInteger(const std::string& text);
/// true/false, yes/no, on/off, 1/0 (any case).
std::optional<bool> ParseBoolean(const std::string& text);
/// Tomcat's channelSendOptions: a number, or names ("asynchronous", "use_ack", "sync", …)
/// joined by ','. nullopt for an unknown name or a bit Tomcat does not define.
std::optional<int> ParseSendOptions(const std::string& text);
/// ParseLogLevel ignoring case, as its canonical name ("debug", "info", "warn", "error").
std::optional<std::string> CanonicalLogLevel(const std::string& text);
/// True for a numeric IPv4/IPv6 address that is loopback (127/8, ::1).
bool IsLoopbackAddress(const std::string& ip);
/// True for a numeric IPv4 or IPv6 address.
bool IsNumericAddress(const std::string& text);
/// The tutorial's note: a literal receiver address that this machine does not own, as a warning
/// text ("" when the address is fine, a wildcard, a host name or loopback).
std::string ForeignAddressWarning(const std::string& ip);

// ---- the loader --------------------------------------------------------------------------

/// Walks a server.xml tree into a LoadedConfig, collecting diagnostics. First error wins.
class Loader {
 public:
  Loader(std::string label, std::string base_dir, LoadedConfig* out)
      : label_(std::move(label)), base_dir_(std::move(base_dir)), out_(out) {}

  NodeConfig& config() { return out_->config; }
  const std::string& base_dir() const { return base_dir_; }
  /// "LABEL:LINE"
  std::string Where(int line) const { return label_ + ":" + std::to_string(line); }

  /// A known Tomcat feature we do not implement: one kIgnored per `kind` for the whole file.
  void Ignored(int line, const std::string& kind, const std::string& message);
  /// An element, attribute or className we do not know: kUnknown with the line.
  void Unknown(int line, const std::string& message);
  void Warn(int line, const std::string& message);
  /// Reports `e` as an unknown child element of `parent_name`.
  void UnknownElement(const XmlElement& e, const std::string& parent_name);
  /// kBadRequest "LABEL:LINE: <Elem attr="value">: reason".
  Status Bad(const XmlElement& e, const XmlAttr& a, const std::string& reason) const;

 private:
  std::string label_, base_dir_;
  LoadedConfig* out_;
  std::set<std::string> ignored_kinds_;
};

/// Reads one element's attributes. Every read marks the attribute as used; Finish() reports the
/// rest as unknown. Empty values mean "the default": readers leave `*out` untouched for them.
class Attrs {
 public:
  Attrs(Loader& loader, const XmlElement& e) : loader_(loader), e_(e), used_(e.attrs.size()) {}

  /// The attribute when present and non-empty (marks it used), else nullptr.
  const XmlAttr* Get(const char* name);
  /// The className, or `fallback` when absent (Tomcat's default implementation).
  std::string ClassName(const char* fallback = "");
  Status Str(const char* name, std::string* out);
  /// Like Str, resolved against the base dir.
  Status Path(const char* name, std::string* out);
  /// 1..65535 (0 too when `allow_zero`).
  Status Port(const char* name, uint16_t* out, bool allow_zero = false);
  Status Int(const char* name, int64_t* out, int64_t min, int64_t max);
  Status Int(const char* name, int* out, int64_t min, int64_t max);
  Status Bool(const char* name, bool* out);
  /// Known attributes that need nothing from us (descriptive or tuning we do ourselves).
  void Quiet(std::initializer_list<const char*> names);
  /// Known Tomcat attributes we do not implement: each reported once (kIgnored) when non-empty.
  void Ignore(std::initializer_list<const char*> names, const std::string& why);
  /// Reports every attribute not read as unknown.
  void Finish();

  const XmlElement& element() const { return e_; }

 private:
  const XmlAttr* Find(const char* name);

  Loader& loader_;
  const XmlElement& e_;
  std::vector<bool> used_;
};

/// Bounds of the <Sessiond> timings that a flag can set too (one range for the file and the flag).
inline constexpr int64_t kMaxAntiEntropyPeriodMs = 24LL * 3600 * 1000;
inline constexpr int64_t kMaxClockSkewMs = 24LL * 3600 * 1000;

/// `<Cluster>` and everything inside it (cluster_xml.cc).
Status LoadCluster(Loader& loader, const XmlElement& cluster);
/// A Valve inside Engine, Host or Cluster (server_xml.cc).
Status LoadValve(Loader& loader, const XmlElement& valve);

}  // namespace sessiond::config::internal
