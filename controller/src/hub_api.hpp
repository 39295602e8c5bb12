// HTTP routes that reach the distribution hub: commands to online players and
// their results, and screen previews (the latest screenshot, cached). Handlers
// run on HTTP worker threads and use only the Hub's thread-safe methods.
#pragma once

#include "api.hpp"

namespace microscape::controller {

void addHubRoutes(Router& r);

}  // namespace microscape::controller
