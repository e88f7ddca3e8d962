#include "ctl/table.h"

#include <algorithm>
#include <cstdio>

namespace sessctl {

using nlohmann::json;

namespace {

constexpr const char* kGap = "  ";
constexpr size_t kMinColumn = 4;

std::string Dump(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace); }

std::string Truncate(const std::string& s, size_t width) {
  if (s.size() <= width) return s;
  if (width <= 3) return s.substr(0, width);
  return s.substr(0, width - 3) + "...";
}

std::string Pad(const std::string& s, size_t width, bool right) {
  if (s.size() >= width) return s;
  std::string fill(width - s.size(), ' ');
  return right ? fill + s : s + fill;
}

// Shrinks the widest columns until the line fits; headers may be cut too, but never below
// kMinColumn — a table that cannot fit even then is printed wide rather than made unreadable.
void FitWidths(std::vector<size_t>& widths, size_t limit) {
  auto total = [&] {
    size_t sum = 0;
    for (size_t w : widths) sum += w;
    return sum + (widths.empty() ? 0 : (widths.size() - 1) * 2);
  };
  while (total() > limit) {
    auto widest = std::max_element(widths.begin(), widths.end());
    if (*widest <= kMinColumn) return;
    --*widest;
  }
}

}  // namespace

bool ParseOutputFormat(const std::string& text, OutputFormat* out) {
  if (text == "table") *out = OutputFormat::kTable;
  else if (text == "wide") *out = OutputFormat::kWide;
  else if (text == "json") *out = OutputFormat::kJson;
  else return false;
  return true;
}

json Table::ToJson() const {
  json rows = json::array();
  for (const auto& row : rows_) {
    json obj = json::object();
    for (size_t i = 0; i < columns_.size() && i < row.size(); ++i)
      obj[columns_[i].key] = row[i].value;
    rows.push_back(std::move(obj));
  }
  return rows;
}

void Record::Add(std::string label, std::string key, Cell cell) {
  fields_.push_back({std::move(label), std::move(key), std::move(cell)});
}

void Record::AddObject(std::string label, std::string key, json object) {
  objects_.push_back({std::move(label), std::move(key), std::move(object)});
}

void Record::AddTable(std::string label, std::string key, Table table) {
  tables_.push_back({std::move(label), std::move(key), std::move(table)});
}

json Record::ToJson() const {
  json obj = json::object();
  for (const Field& f : fields_) obj[f.key] = f.cell.value;
  for (const Object& o : objects_) obj[o.key] = o.object;
  for (const SubTable& t : tables_) obj[t.key] = t.table.ToJson();
  return obj;
}

// ---- Printer ---------------------------------------------------------------------------------

void Printer::Print(const Table& table) const {
  if (format_ == OutputFormat::kJson) {
    out_ << Dump(table.ToJson()) << "\n";
    return;
  }
  PrintText(table, "");
}

void Printer::PrintText(const Table& table, const std::string& indent) const {
  bool wide = format_ == OutputFormat::kWide;
  std::vector<size_t> shown;  // indexes of the columns this format shows
  for (size_t i = 0; i < table.columns().size(); ++i) {
    const Column& col = table.columns()[i];
    if (!col.json_only && (wide || !col.wide_only)) shown.push_back(i);
  }
  auto text_of = [&](const Cell& c) { return !wide && !c.brief.empty() ? c.brief : c.text; };

  std::vector<size_t> widths;
  for (size_t i : shown) {
    size_t w = no_headers_ ? 0 : table.columns()[i].header.size();
    for (const auto& row : table.rows()) w = std::max(w, text_of(row[i]).size());
    widths.push_back(w);
  }
  if (!wide) FitWidths(widths, width_ - std::min(width_, indent.size()));

  auto line = [&](auto&& cell_text) {
    std::string out = indent;
    for (size_t k = 0; k < shown.size(); ++k) {
      const Column& col = table.columns()[shown[k]];
      std::string cell = Truncate(cell_text(shown[k]), widths[k]);
      bool last = k + 1 == shown.size();
      out += (last && !col.right) ? cell : Pad(cell, widths[k], col.right);
      if (!last) out += kGap;
    }
    out_ << out << "\n";
  };
  if (!no_headers_) line([&](size_t i) { return table.columns()[i].header; });
  for (const auto& row : table.rows()) line([&](size_t i) { return text_of(row[i]); });
}

void Printer::Print(const Record& record) const {
  if (format_ == OutputFormat::kJson) {
    out_ << Dump(record.ToJson()) << "\n";
    return;
  }
  bool wide = format_ == OutputFormat::kWide;
  size_t label_width = 0;
  for (const auto& f : record.fields_) label_width = std::max(label_width, f.label.size() + 1);
  for (const auto& f : record.fields_) {
    const std::string& text = !wide && !f.cell.brief.empty() ? f.cell.brief : f.cell.text;
    out_ << Pad(f.label + ":", label_width, false) << " " << text << "\n";
  }
  for (const auto& o : record.objects_) {
    out_ << o.label << ":" << (o.object.empty() ? " (none)" : "") << "\n";
    for (const auto& [name, value] : o.object.items())
      out_ << "  " << name << " = " << value.dump(-1, ' ', false, json::error_handler_t::replace)
           << "\n";
  }
  for (const auto& t : record.tables_) {
    out_ << t.label << ":" << (t.table.size() == 0 ? " (none)" : "") << "\n";
    if (t.table.size() > 0) PrintText(t.table, "  ");
  }
}

// ---- cell text helpers -----------------------------------------------------------------------

std::string HumanBytes(uint64_t n) {
  if (n < 1024) return std::to_string(n) + "B";
  static const char* kUnits[] = {"K", "M", "G", "T"};
  double v = static_cast<double>(n);
  int unit = -1;
  while (v >= 1024 && unit < 3) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.1f%s" : "%.0f%s", v, kUnits[unit]);
  return buf;
}

std::string ShortTime(const std::string& rfc3339) {
  // "2026-11-25T01:02:03.456Z" -> "11-25 01:02" (UTC): enough to tell sessions apart in 80
  // columns; -o wide and -o json carry the full time.
  if (rfc3339.size() < 16 || rfc3339[10] != 'T') return rfc3339;
  return rfc3339.substr(5, 5) + " " + rfc3339.substr(11, 5);
}

}  // namespace sessctl
