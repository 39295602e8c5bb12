// Files and untrusted media on the controller: a private data directory and
// database whatever the umask.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "test_support.hpp"

using namespace mstest;

namespace {

unsigned modeOf(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

void checkPrivate(const fs::path& dataDir) {
    CHECK(modeOf(dataDir) == 0700);
    CHECK(modeOf(dataDir / "controller.db") == 0600);
    for (const char* suffix : {"-wal", "-shm"}) {
        const fs::path p = dataDir / (std::string("controller.db") + suffix);
        if (fs::exists(p)) CHECK(modeOf(p) == 0600);
    }
}

}  // namespace

// The finding: run by hand (umask 022), the controller left controller.db 0644
// in a 0755 data directory, readable by every local user (password hashes,
// session hashes, the audit log).
TEST_CASE("the controller's data directory is 0700 and its database 0600 whatever the umask",
          "[controller][files][security]") {
    TempDir t;
    const fs::path data = t.path / "controller";

    SECTION("microscape-controller run by hand with umask 022") {
        auto r = microscape::testing::runProcess(
            {"/bin/sh", "-c",
             "umask 022; MICROSCAPE_ADMIN_PASSWORD=admin-password-1 exec \"$0\" --data-dir \"$1\" --init-admin admin",
             MICROSCAPE_CONTROLLER_BIN, data.string()});
        REQUIRE(r.exitCode == 0);
        checkPrivate(data);
    }
    SECTION("a data directory and database left open by an older version are closed at start") {
        fs::create_directories(data);
        fs::permissions(data, fs::perms(0755));
        std::ofstream(data / "controller.db").close();
        std::ofstream(data / "controller.db-wal").close();
        fs::permissions(data / "controller.db", fs::perms(0644));
        fs::permissions(data / "controller.db-wal", fs::perms(0644));
        const mode_t old = ::umask(022);
        {
            TestServer srv([&](microscape::controller::ControllerConfig& c) { c.dataDir = data; });
            CHECK(srv.admin().get("/api/v1/me").status == 200);
            checkPrivate(data);
        }
        ::umask(old);
    }
}
