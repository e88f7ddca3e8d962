// sessctl's one printer: every command fills a Table (lists) or a Record (one object) and the
// printer renders it as aligned text, wide text or one JSON document. Commands never format JSON
// by hand, so `-o json` keys (snake_case, public API) are exactly the column keys.
//
// Thread-safety: plain values; one thread.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace sessctl {

enum class OutputFormat { kTable, kWide, kJson };

/// Parses "table|wide|json".
bool ParseOutputFormat(const std::string& text, OutputFormat* out);

struct Column {
  std::string header;      ///< "LAST-NODE"
  std::string key;         ///< "last_node": the JSON key
  bool wide_only = false;  ///< shown with -o wide (always in JSON)
  bool right = false;      ///< right-aligned (numbers)
  bool json_only = false;  ///< only in JSON: keys scripts want that no text column shows
};

/// One value: `value` goes to JSON; `text` to wide output; `brief` (when set) to the 80-column
/// table instead of `text`.
struct Cell {
  Cell() = default;
  Cell(const char* s) : value(s), text(s) {}                  // NOLINT: implicit by design
  Cell(std::string s) : value(s), text(std::move(s)) {}       // NOLINT
  Cell(nlohmann::json v, std::string t, std::string b = "")
      : value(std::move(v)), text(std::move(t)), brief(std::move(b)) {}
  nlohmann::json value;
  std::string text;
  std::string brief;
};

class Table {
 public:
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  /// One cell per column, in column order.
  void AddRow(std::vector<Cell> cells) { rows_.push_back(std::move(cells)); }
  const std::vector<Column>& columns() const { return columns_; }
  const std::vector<std::vector<Cell>>& rows() const { return rows_; }
  size_t size() const { return rows_.size(); }

  /// The rows as a JSON array of objects keyed by column key.
  nlohmann::json ToJson() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<Cell>> rows_;
};

/// One object (status, a session): labelled fields, then named sub-objects and sub-tables.
class Record {
 public:
  /// `label` for text ("Last node"), `key` for JSON ("last_node").
  void Add(std::string label, std::string key, Cell cell);
  /// A JSON object shown as "name = value" lines under a heading ("Attributes").
  void AddObject(std::string label, std::string key, nlohmann::json object);
  void AddTable(std::string label, std::string key, Table table);
  nlohmann::json ToJson() const;

 private:
  friend class Printer;
  struct Field { std::string label, key; Cell cell; };
  struct Object { std::string label, key; nlohmann::json object; };
  struct SubTable { std::string label, key; Table table; };
  std::vector<Field> fields_;
  std::vector<Object> objects_;
  std::vector<SubTable> tables_;
};

class Printer {
 public:
  Printer(std::ostream& out, OutputFormat format, bool no_headers, size_t width = 80)
      : out_(out), format_(format), no_headers_(no_headers), width_(width) {}
  void Print(const Table& table) const;
  void Print(const Record& record) const;
  OutputFormat format() const { return format_; }

 private:
  void PrintText(const Table& table, const std::string& indent) const;
  std::ostream& out_;
  OutputFormat format_;
  bool no_headers_;
  size_t width_;
};

/// Text helpers for cells.
std::string HumanBytes(uint64_t n);            ///< 512 -> "512B", 2048 -> "2.0K"
std::string ShortTime(const std::string& rfc3339);  ///< "2026-11-25T01:02:03.456Z" -> "11-25 01:02"

}  // namespace sessctl
