// WEB-INF/web.xml: the few elements a static app with sessions needs (DESIGN.md §6).
// pugixml stays in this file; it reports errors by byte offset, which we turn into LINE:COL.
#include <pugixml.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>

#include "container/apps_internal.h"

namespace sessiond::container {
namespace {

/// 1-based line and column of a byte offset (columns count bytes, as compilers do).
std::pair<int, int> LineCol(const std::string& text, ptrdiff_t offset) {
  int line = 1, col = 1;
  size_t end = std::min<size_t>(offset < 0 ? 0 : static_cast<size_t>(offset), text.size());
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') { ++line; col = 1; } else { ++col; }
  }
  return {line, col};
}

std::string Where(const std::string& xml, const std::string& label, ptrdiff_t offset) {
  auto [line, col] = LineCol(xml, offset);
  return label + ":" + std::to_string(line) + ":" + std::to_string(col);
}

/// Element names compared without a namespace prefix (<javaee:welcome-file> is a welcome-file).
std::string_view LocalName(const pugi::xml_node& node) {
  std::string_view name = node.name();
  size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

pugi::xml_node Child(const pugi::xml_node& node, std::string_view name) {
  for (pugi::xml_node c : node.children())
    if (c.type() == pugi::node_element && LocalName(c) == name) return c;
  return {};
}

std::string Text(const pugi::xml_node& node) {
  std::string s = node.child_value();
  if (s.empty()) s = node.text().get();
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Status ReadSessionConfig(const pugi::xml_node& node, const std::string& xml,
                         const std::string& label, WebXml* out) {
  pugi::xml_node timeout = Child(node, "session-timeout");
  if (!timeout) return Status::Ok();
  std::string text = Text(timeout);
  int32_t minutes = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), minutes);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return Status::BadRequest(Where(xml, label, timeout.offset_debug()) +
                              ": <session-timeout> must be a whole number of minutes, not \"" +
                              text + "\"");
  out->session_timeout_minutes = minutes;
  return Status::Ok();
}

Status ReadMimeMapping(const pugi::xml_node& node, const std::string& xml,
                       const std::string& label, WebXml* out) {
  std::string ext = Lower(Text(Child(node, "extension")));
  std::string type = Text(Child(node, "mime-type"));
  if (!ext.empty() && ext[0] == '.') ext.erase(0, 1);
  if (ext.empty() || type.empty())
    return Status::BadRequest(Where(xml, label, node.offset_debug()) +
                              ": <mime-mapping> needs an <extension> and a <mime-type>");
  out->mime_mappings[ext] = type;
  return Status::Ok();
}

Result<WebXml> Parse(const std::string& xml, const std::string& label) {
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default);
  if (!parsed)
    return Status::BadRequest(Where(xml, label, parsed.offset) + ": " + parsed.description());
  pugi::xml_node root = doc.document_element();
  if (LocalName(root) != "web-app")
    return Status::BadRequest(Where(xml, label, root.offset_debug()) +
                              ": the root element is <" + root.name() + ">, expected <web-app>");
  WebXml web;
  bool saw_welcome_list = false;
  for (pugi::xml_node node : root.children()) {
    if (node.type() != pugi::node_element) continue;
    std::string_view name = LocalName(node);
    if (name == "distributable") {
      web.distributable = true;
    } else if (name == "session-config") {
      SESSIOND_RETURN_IF_ERROR(ReadSessionConfig(node, xml, label, &web));
    } else if (name == "welcome-file-list") {
      saw_welcome_list = true;
      for (pugi::xml_node f : node.children())
        if (LocalName(f) == "welcome-file" && !Text(f).empty()) web.welcome_files.push_back(Text(f));
    } else if (name == "mime-mapping") {
      SESSIOND_RETURN_IF_ERROR(ReadMimeMapping(node, xml, label, &web));
    }
  }
  if (!saw_welcome_list) web.welcome_files = {"index.html", "index.htm"};
  return web;
}

}  // namespace

Result<WebXml> ParseWebXml(const std::string& xml, const std::string& file_label) {
  try {  // pugixml throws only std::bad_alloc; lib/ never lets an exception out
    return Parse(xml, file_label);
  } catch (const std::exception& e) {
    return Status::Internal(file_label + ": " + e.what());
  }
}

}  // namespace sessiond::container
