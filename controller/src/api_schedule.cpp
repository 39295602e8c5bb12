#include "api.hpp"
namespace microscape::controller {
void addScheduleRoutes(Router&) {}
}
