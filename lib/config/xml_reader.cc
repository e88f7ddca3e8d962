// The pugixml adapter: parses a document in place and copies it into our own XmlElement tree,
// with line numbers taken from the byte offsets pugixml leaves in the buffer. Malformed input
// becomes "LABEL:LINE:COL: message" with a hint for the mistakes people make in server.xml.
#include <pugixml.hpp>

#include <algorithm>
#include <cstring>
#include <exception>

#include "config/config_internal.h"

namespace sessiond::config::internal {
namespace {

// Counts lines once so each lookup is a binary search, not a rescan of the file.
class LineIndex {
 public:
  explicit LineIndex(const std::string& text) {
    starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n') starts_.push_back(i + 1);
  }
  int LineOf(size_t offset) const {
    auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
    return static_cast<int>(it - starts_.begin());
  }

 private:
  std::vector<size_t> starts_;
};

struct TreeBuilder {
  const char* begin;
  size_t size;
  const LineIndex& lines;

  // pugixml parsed in place, so names and values point into our buffer; anything else (a static
  // empty string) falls back to the element's line.
  int LineOfPointer(const char* p, int fallback) const {
    if (p < begin || p >= begin + size) return fallback;
    return lines.LineOf(static_cast<size_t>(p - begin));
  }

  void Copy(const pugi::xml_node& node, XmlElement* out, int depth) const {
    out->name = node.name();
    out->line = LineOfPointer(node.name(), lines.LineOf(static_cast<size_t>(
                                                 std::max<ptrdiff_t>(node.offset_debug(), 0))));
    for (const pugi::xml_attribute& a : node.attributes())
      out->attrs.push_back({a.name(), a.value(), LineOfPointer(a.name(), out->line)});
    if (depth > 64) return;  // server.xml is shallow; a deeper tree is junk, not config
    for (const pugi::xml_node& child : node.children()) {
      if (child.type() != pugi::node_element) continue;
      out->children.emplace_back();
      Copy(child, &out->children.back(), depth + 1);
    }
  }
};

// The message for a parse failure at byte `offset`; may move `offset` to the real culprit.
std::string DescribeError(const pugi::xml_parse_result& r, const std::string& xml,
                          size_t* offset) {
  size_t at = *offset;
  char before = at > 0 && at <= xml.size() ? xml[at - 1] : '\0';
  char here = at < xml.size() ? xml[at] : '\0';
  bool in_tag = r.status == pugi::status_bad_attribute || r.status == pugi::status_bad_start_element;
  if (in_tag && (before == '"' || before == '\'') && here && !std::strchr(" \t\r\n/>", here)) {
    *offset = at - 1;  // point at the quote that closed the value, not at what follows it
    return before == '"'
               ? "attribute value ends early at a '\"' inside it — write a quote inside an "
                 "attribute as &quot;"
               : "attribute value ends early at a \"'\" inside it — write an apostrophe inside "
                 "an attribute as &apos;";
  }
  if (r.status == pugi::status_bad_attribute && here == '<')
    return "'<' inside an attribute value — write it as &lt;";
  if (r.status == pugi::status_bad_attribute)
    return "bad attribute (expected name=\"value\" with the value in quotes)";
  if (r.status == pugi::status_end_element_mismatch)
    return "end tag does not match the element it closes";
  if (r.status == pugi::status_unrecognized_tag && here == '&')
    return "'&' in text — write it as &amp;";
  if (r.status == pugi::status_no_document_element) return "no root element (empty document?)";
  return r.description();
}

}  // namespace

std::pair<int, int> LineColumnOf(const std::string& text, size_t offset) {
  offset = std::min(offset, text.size());
  int line = 1, col = 1;
  for (size_t i = 0; i < offset; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      col = 1;
    } else if ((c & 0xC0) != 0x80) {  // count UTF-8 characters, not continuation bytes
      ++col;
    }
  }
  return {line, col};
}

Result<XmlElement> ParseXmlDocument(const std::string& xml, const std::string& label) {
  try {
    std::vector<char> buffer(xml.begin(), xml.end());
    pugi::xml_document doc;
    pugi::xml_parse_result r = doc.load_buffer_inplace(buffer.data(), buffer.size(),
                                                       pugi::parse_default, pugi::encoding_utf8);
    if (!r) {
      size_t offset = static_cast<size_t>(std::max<ptrdiff_t>(r.offset, 0));
      std::string message = DescribeError(r, xml, &offset);
      auto [line, col] = LineColumnOf(xml, offset);
      return Status::BadRequest(label + ":" + std::to_string(line) + ":" + std::to_string(col) +
                                ": " + message);
    }
    pugi::xml_node root = doc.document_element();
    if (!root) return Status::BadRequest(label + ":1:1: no root element (empty document?)");
    LineIndex lines(xml);
    XmlElement out;
    TreeBuilder{buffer.data(), buffer.size(), lines}.Copy(root, &out, 0);
    return out;
  } catch (const std::exception& e) {  // only bad_alloc is possible; never let it escape lib/
    return Status::Internal(label + ": cannot parse: " + e.what());
  }
}

}  // namespace sessiond::config::internal
