// Forward-only schema migrations: entry N (1-based) moves the schema from N-1 to N.
// Never edit a released entry; append a new one.
#pragma once

#include <string>
#include <vector>

namespace microscape::controller {

const std::vector<std::vector<std::string>>& schemaMigrations();

}  // namespace microscape::controller
