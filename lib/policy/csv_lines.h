// Line-by-line CSV reading shared by the trace parsers: quoted fields are
// split by Boost.Tokenizer's escaped_list_separator.
#pragma once

#include <boost/tokenizer.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "ckpt/status.h"

namespace ckpt::policy {

// Calls on_line(line_number, fields) for each non-blank line of `text`
// (1-based numbers, trailing '\r' removed) until it returns a non-OK status.
template <typename F>
Status ForEachCsvLine(std::string_view text, const std::string& source, F&& on_line) {
  size_t line_number = 0;
  size_t pos = 0;
  std::vector<std::string> fields;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(pos, end - pos));
    pos = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    fields.clear();
    try {
      boost::tokenizer<boost::escaped_list_separator<char>> tok(line);
      for (const std::string& field : tok) fields.push_back(field);
    } catch (const boost::escaped_list_error& e) {
      return Status::InvalidArgument(source + " line " + std::to_string(line_number) +
                                     ": malformed CSV (" + e.what() + ")");
    }
    CKPT_RETURN_IF_ERROR(on_line(line_number, fields));
  }
  return Status::OK();
}

// Index of `name` among the header fields, or -1.
inline int FindColumn(const std::vector<std::string>& header, std::string_view name) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace ckpt::policy
