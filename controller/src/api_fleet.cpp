#include "api.hpp"
namespace microscape::controller {
void addFleetRoutes(Router&) {}
}
