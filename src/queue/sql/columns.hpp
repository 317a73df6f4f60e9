// How the values that have no column of their own are kept in one: tags, metadata and a
// reply as JSON text.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "queue/records.hpp"

namespace haineko::queue::sql {

std::string tags_column(const std::vector<std::string>& tags);
std::vector<std::string> tags_from(const std::string& column);

std::string metadata_column(const std::vector<std::pair<std::string, std::string>>& metadata);
std::vector<std::pair<std::string, std::string>> metadata_from(const std::string& column);

std::optional<std::string> reply_column(const std::optional<ReplyFacts>& reply);
std::optional<ReplyFacts> reply_from(const std::optional<std::string>& column);

}  // namespace haineko::queue::sql
