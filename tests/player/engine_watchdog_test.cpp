#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "media_fixtures.hpp"
#include "microscape/player/engine_watchdog.hpp"

using namespace microscape;

TEST_CASE("sd_notify datagrams reach $NOTIFY_SOCKET", "[watchdog]") {
    testing::TempDir dir;
    std::string path = dir / "notify.sock";
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);

    ::unsetenv("NOTIFY_SOCKET");
    CHECK_FALSE(player::sdNotify("READY=1"));
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    CHECK(player::sdNotify("READY=1"));
    CHECK(player::sdNotify("WATCHDOG=1"));
    char buf[64] = {};
    CHECK(::recv(fd, buf, sizeof buf, 0) == 7);
    CHECK(std::string(buf) == "READY=1");
    std::memset(buf, 0, sizeof buf);
    CHECK(::recv(fd, buf, sizeof buf, 0) == 10);
    CHECK(std::string(buf) == "WATCHDOG=1");
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd);

    ::setenv("WATCHDOG_USEC", "10000000", 1);
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    CHECK(player::watchdogPingIntervalMs() == 5000);
    ::setenv("WATCHDOG_PID", "1", 1);
    CHECK(player::watchdogPingIntervalMs() == 0);
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    CHECK(player::watchdogPingIntervalMs() == 0);

    CHECK(player::engineAlive(1000, 2000));
    CHECK_FALSE(player::engineAlive(1000, 7000));
    CHECK_FALSE(player::engineAlive(0, 10));
}
