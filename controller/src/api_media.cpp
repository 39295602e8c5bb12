#include "api.hpp"
namespace microscape::controller {
void addMediaRoutes(Router&) {}
}
