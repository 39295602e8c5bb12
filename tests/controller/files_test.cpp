// Files and untrusted media on the controller: a private data directory and
// database whatever the umask; uploads probed in a confined process that cannot
// read the keys and is killed after a timeout; error bodies without server paths.
#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>

#include "test_support.hpp"

using namespace microscape::testing;

namespace {

unsigned modeOf(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

std::size_t filesIn(const fs::path& dir) {
    std::size_t n = 0;
    for (auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) ++n;
    return n;
}

fs::path probeHelper() {
    return fs::path(MICROSCAPE_CONTROLLER_BIN).parent_path() / "microscape-probe";
}

// A stand-in probe helper: a shell script (it runs with PATH=/usr/bin:/bin).
fs::path writeScript(const fs::path& dir, const std::string& name, const std::string& body) {
    const fs::path p = dir / name;
    std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(p, fs::perms(0755));
    return p;
}

// No server path in what a client sees.
void checkNoPath(const Response& r, const fs::path& dataDir) {
    INFO(r.body);
    CHECK(r.body.find(dataDir.string()) == std::string::npos);
    CHECK(r.body.find("/tmp") == std::string::npos);
    CHECK(r.body.find("media/") == std::string::npos);
    CHECK(r.body.find("upload-") == std::string::npos);
    CHECK(r.body.find("microscape-probe") == std::string::npos);
}

std::string multipart(const std::string& fileName, const std::string& bytes) {
    return "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + fileName +
           "\"\r\nContent-Type: application/octet-stream\r\n\r\n" + bytes + "\r\n--B--\r\n";
}

void checkPrivate(const fs::path& dataDir) {
    CHECK(modeOf(dataDir) == 0700);
    if (testStoreIsPostgres()) return;  // no database file here (PostgreSQL keeps its own)
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
             "umask 022; MICROSCAPE_ADMIN_PASSWORD=admin-password-1 exec \"$0\" --data-dir \"$1\" "
             "--init-admin admin",
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

// The finding: a 415 answer showed the upload's temporary path
// ("/var/lib/microscape/controller/media/tmp/upload-… is not a recognised…").
TEST_CASE("upload error bodies name no server path", "[controller][files][security]") {
    TestServer srv;
    TempDir fx;
    Client ed = srv.userClient("ed", "editor", "交警");
    const auto mediaDir = srv.dataDir() / "media";
    const std::size_t before = filesIn(mediaDir);

    SECTION("not an image or video (415)") {
        auto r = ed.request("POST", "/api/v1/media?filename=a.png", std::string(5000, 'x'), "image/png");
        CHECK(r.status == 415);
        CHECK(r.errorCode() == "unknown_format");
        checkNoPath(r, srv.dataDir());
    }
    SECTION("a truncated PNG, as multipart (422)") {
        std::string png = makePng(fx.path, "截断");
        auto r = ed.request("POST", "/api/v1/media", multipart("cut.png", png.substr(0, 60)),
                            "multipart/form-data; boundary=B");
        CHECK(r.status == 422);
        CHECK(r.errorCode() == "truncated");
        checkNoPath(r, srv.dataDir());
    }
    SECTION("the media store cannot take the upload (400)") {
        fs::remove_all(mediaDir / "tmp");
        std::ofstream(mediaDir / "tmp") << "not a directory";
        auto r = ed.request("POST", "/api/v1/media?filename=a.png", makePng(fx.path, "存"), "image/png");
        CHECK(r.status == 400);
        CHECK(r.errorCode() == "upload_failed");
        checkNoPath(r, srv.dataDir());
        auto r2 = ed.request("POST", "/api/v1/media", multipart("b.png", makePng(fx.path, "存2")),
                             "multipart/form-data; boundary=B");
        CHECK(r2.status == 400);
        checkNoPath(r2, srv.dataDir());
        fs::remove(mediaDir / "tmp");
        fs::create_directories(mediaDir / "tmp");
    }
    CHECK(filesIn(mediaDir) == before);
}

// The finding: libvlc parsed untrusted uploads inside the controller process,
// which holds the content signing key.
TEST_CASE("uploads are probed in a separate process that cannot read the keys", "[controller][files][security]") {
    TempDir fx;
    const fs::path helper = probeHelper();
    REQUIRE(fs::exists(helper));

    SECTION("a real upload is probed by the helper, whose answer the controller uses") {
        TestServer srv;
        Client ed = srv.userClient("ed", "editor", "交警");
        auto r = ed.request("POST", "/api/v1/media?filename=clip.mp4", makeMp4(fx.path, 1), "video/mp4");
        REQUIRE(r.status == 201);
        CHECK(r.json()->getValue<std::string>("kind") == "video");
        CHECK(r.json()->getValue<int>("durationMs") >= 900);
        CHECK(r.json()->getValue<int>("width") > 0);
    }
    SECTION("the helper cannot open the signing key") {
        TestServer srv;
        const fs::path key = srv.dataDir() / "keys" / "content-signing.pem";
        REQUIRE(fs::exists(key));
        auto r = microscape::testing::runProcess({helper.string(), "--check-read", key.string()});
        REQUIRE(r.exitCode == 0);
        INFO(r.out);
        auto answer = parseObject(r.out);
        CHECK_FALSE(answer->getValue<bool>("readable"));
        const auto sandbox = answer->getObject("sandbox");
        if (::geteuid() == 0) CHECK(sandbox->getValue<int>("uid") != 0);
    }
    SECTION("with Landlock, not even a file its own user may read") {
        // Run as an unprivileged user against a world-readable file: only the
        // helper's Landlock rules keep it out.
        if (::geteuid() != 0 || !fs::exists("/usr/bin/setpriv")) return;
        const fs::path open = fx.path / "open";
        fs::create_directories(open);
        fs::permissions(fx.path, fs::perms(0755));
        fs::permissions(open, fs::perms(0755));
        std::ofstream(open / "secret.pem") << "not for the probe\n";
        fs::permissions(open / "secret.pem", fs::perms(0644));
        auto r =
            microscape::testing::runProcess({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                             helper.string(), "--check-read", (open / "secret.pem").string()});
        REQUIRE(r.exitCode == 0);
        INFO(r.out);
        auto answer = parseObject(r.out);
        if (answer->getObject("sandbox")->getValue<int>("landlock") == 0) return;  // kernel without Landlock
        CHECK_FALSE(answer->getValue<bool>("readable"));
    }
}

TEST_CASE("a probe that hangs or crashes is stopped, the upload gets 422 and nothing is kept",
          "[controller][files][security]") {
    TempDir fx;
    const fs::path pidFile = fx.path / "probe.pid";
    SECTION("hangs: killed after media.probeTimeoutSeconds") {
        // exec: the pid written is the one the controller must kill.
        const fs::path script = writeScript(fx.path, "hang.sh", "echo $$ > '" + pidFile.string() + "'\nexec sleep 60");
        TestServer srv([&](auto& c) {
            c.probeHelper = script;
            c.probeTimeoutSeconds = 1;
        });
        Client ed = srv.userClient("ed", "editor", "交警");
        const std::size_t before = filesIn(srv.dataDir() / "media");
        const auto started = std::chrono::steady_clock::now();
        auto r = ed.request("POST", "/api/v1/media?filename=a.png", makePng(fx.path, "挂起"), "image/png");
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        CHECK(r.status == 422);
        CHECK(r.errorCode() == "probe_failed");
        CHECK_THAT(r.body, Catch::Contains("did not finish within 1 s"));
        checkNoPath(r, srv.dataDir());
        CHECK(secs >= 1.0);
        CHECK(secs < 5.0);
        REQUIRE(fs::exists(pidFile));
        const pid_t pid = std::stoi(readFile(pidFile));
        CHECK(::kill(pid, 0) != 0);  // killed and reaped
        CHECK(filesIn(srv.dataDir() / "media") == before);
        CHECK(srv.admin().get("/api/v1/media").json()->getArray("media")->size() == 0);
        CHECK(srv.client().get("/healthz").status == 200);
    }
    SECTION("crashes: the signal is reported") {
        const fs::path script = writeScript(fx.path, "crash.sh", "kill -SEGV $$");
        TestServer srv([&](auto& c) { c.probeHelper = script; });
        Client ed = srv.userClient("ed", "editor", "交警");
        auto r = ed.request("POST", "/api/v1/media?filename=a.png", makePng(fx.path, "崩溃"), "image/png");
        CHECK(r.status == 422);
        CHECK(r.errorCode() == "probe_failed");
        CHECK_THAT(r.body, Catch::Contains("crashed (signal 11)"));
        checkNoPath(r, srv.dataDir());
        CHECK(srv.admin().get("/api/v1/media").json()->getArray("media")->size() == 0);
    }
    SECTION("answers nonsense") {
        const fs::path script = writeScript(fx.path, "junk.sh", "echo '{\"ok\":true,\"kind\":\"weird\"}'");
        TestServer srv([&](auto& c) { c.probeHelper = script; });
        Client ed = srv.userClient("ed", "editor", "交警");
        auto r = ed.request("POST", "/api/v1/media?filename=a.png", makePng(fx.path, "乱"), "image/png");
        CHECK(r.status == 422);
        checkNoPath(r, srv.dataDir());
    }
    SECTION("missing helper: 500 without its path") {
        TestServer srv([&](auto& c) { c.probeHelper = fx.path / "no-such-probe"; });
        Client ed = srv.userClient("ed", "editor", "交警");
        auto r = ed.request("POST", "/api/v1/media?filename=a.png", makePng(fx.path, "无"), "image/png");
        CHECK(r.status == 500);
        checkNoPath(r, srv.dataDir());
    }
}
