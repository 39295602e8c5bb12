#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "microscape/player/engine_watchdog.hpp"

namespace microscape::player {

bool sdNotify(const std::string& state) {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (!path || !*path) return false;
    std::size_t len = std::strlen(path);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (len >= sizeof addr.sun_path) return false;
    std::memcpy(addr.sun_path, path, len);
    if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    socklen_t addrLen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
    ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), addrLen);
    ::close(fd);
    return n == static_cast<ssize_t>(state.size());
}

std::int64_t watchdogPingIntervalMs() {
    const char* usec = std::getenv("WATCHDOG_USEC");
    if (!usec) return 0;
    if (const char* pid = std::getenv("WATCHDOG_PID"); pid && std::atol(pid) != ::getpid()) return 0;
    long long v = std::atoll(usec);
    return v > 0 ? v / 2000 : 0;
}

}  // namespace microscape::player
