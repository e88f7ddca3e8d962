// Loader and Attrs: diagnostics and typed attribute reads for the server.xml walker.
#include <limits>

#include "config/config_internal.h"

namespace sessiond::config::internal {

void Loader::Ignored(int line, const std::string& kind, const std::string& message) {
  if (!ignored_kinds_.insert(kind).second) return;
  out_->diagnostics.push_back({Diagnostic::Kind::kIgnored, Where(line) + ": " + message});
}

void Loader::Unknown(int line, const std::string& message) {
  out_->diagnostics.push_back({Diagnostic::Kind::kUnknown, Where(line) + ": " + message});
}

void Loader::Warn(int line, const std::string& message) {
  out_->diagnostics.push_back({Diagnostic::Kind::kWarning, Where(line) + ": " + message});
}

void Loader::UnknownElement(const XmlElement& e, const std::string& parent_name) {
  Unknown(e.line, "unknown element <" + e.name + "> inside <" + parent_name + ">, skipped");
}

Status Loader::Bad(const XmlElement& e, const XmlAttr& a, const std::string& reason) const {
  return Status::BadRequest(Where(a.line) + ": <" + e.name + " " + a.name + "=\"" + a.value +
                            "\">: " + reason);
}

const XmlAttr* Attrs::Find(const char* name) {
  for (size_t i = 0; i < e_.attrs.size(); ++i) {
    if (e_.attrs[i].name == name) {
      used_[i] = true;
      return &e_.attrs[i];
    }
  }
  return nullptr;
}

const XmlAttr* Attrs::Get(const char* name) {
  const XmlAttr* a = Find(name);
  return a && !a->value.empty() ? a : nullptr;
}

std::string Attrs::ClassName(const char* fallback) {
  const XmlAttr* a = Get("className");
  return a ? a->value : fallback;
}

Status Attrs::Str(const char* name, std::string* out) {
  if (const XmlAttr* a = Get(name)) *out = a->value;
  return Status::Ok();
}

Status Attrs::Path(const char* name, std::string* out) {
  if (const XmlAttr* a = Get(name)) *out = ResolvePath(loader_.base_dir(), a->value);
  return Status::Ok();
}

Status Attrs::Port(const char* name, uint16_t* out, bool allow_zero) {
  const XmlAttr* a = Get(name);
  if (!a) return Status::Ok();
  std::optional<int64_t> v = ParseInteger(a->value);
  if (!v || *v < (allow_zero ? 0 : 1) || *v > 65535)
    return loader_.Bad(e_, *a, allow_zero ? "not a port number (0-65535, 0 = off)"
                                          : "not a port number (1-65535)");
  *out = static_cast<uint16_t>(*v);
  return Status::Ok();
}

Status Attrs::Int(const char* name, int64_t* out, int64_t min, int64_t max) {
  const XmlAttr* a = Get(name);
  if (!a) return Status::Ok();
  std::optional<int64_t> v = ParseInteger(a->value);
  if (!v) return loader_.Bad(e_, *a, "not a whole number");
  if (*v < min || *v > max) {
    std::string range = max == std::numeric_limits<int64_t>::max()
                            ? "at least " + std::to_string(min)
                            : std::to_string(min) + ".." + std::to_string(max);
    return loader_.Bad(e_, *a, "out of range (" + range + ")");
  }
  *out = *v;
  return Status::Ok();
}

Status Attrs::Int(const char* name, int* out, int64_t min, int64_t max) {
  int64_t wide = *out;
  SESSIOND_RETURN_IF_ERROR(Int(name, &wide, min, max));
  *out = static_cast<int>(wide);
  return Status::Ok();
}

Status Attrs::Bool(const char* name, bool* out) {
  const XmlAttr* a = Get(name);
  if (!a) return Status::Ok();
  std::optional<bool> v = ParseBoolean(a->value);
  if (!v) return loader_.Bad(e_, *a, "not a boolean (true or false)");
  *out = *v;
  return Status::Ok();
}

void Attrs::Quiet(std::initializer_list<const char*> names) {
  for (const char* n : names) Find(n);
}

void Attrs::Ignore(std::initializer_list<const char*> names, const std::string& why) {
  for (const char* n : names) {
    const XmlAttr* a = Get(n);
    if (!a) continue;
    loader_.Ignored(a->line, e_.name + "@" + n,
                    "<" + e_.name + " " + n + "=\"" + a->value + "\"> is ignored (" + why + ")");
  }
}

void Attrs::Finish() {
  for (size_t i = 0; i < e_.attrs.size(); ++i) {
    if (used_[i]) continue;
    const XmlAttr& a = e_.attrs[i];
    loader_.Unknown(a.line, "unknown attribute " + a.name + " on <" + e_.name + ">, ignored");
  }
}

}  // namespace sessiond::config::internal
