// Accounts (等保 身份鉴别 / 登录失败处理): login throttling per address and per
// (address, username), equal cost for unknown names, session and token revocation,
// idle and absolute session lifetimes, the password policy, login CSRF and log
// injection. Each case names the attack that worked before it was fixed.
#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketImpl.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/Util/MapConfiguration.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "microscape/controller/login_throttle.hpp"
#include "microscape/controller/security.hpp"
#include "test_support.hpp"

using namespace microscape::testing;
using microscape::controller::ControllerConfig;

namespace {

// One HTTP request from a chosen loopback source address (127.0.0.0/8 all reach
// the server), so tests can play an attacker and the owner on different hosts.
Response requestFrom(std::uint16_t port, const std::string& sourceIp, const std::string& method,
                     const std::string& path, const std::string& body,
                     const std::string& contentType = "application/json",
                     const std::map<std::string, std::string>& headers = {}) {
    Poco::Net::StreamSocket plain(Poco::Net::SocketAddress::IPv4);
    plain.impl()->bind(Poco::Net::SocketAddress(sourceIp, 0), false);
    plain.connect(Poco::Net::SocketAddress("127.0.0.1", port), Poco::Timespan(10, 0));
    // The test servers speak HTTPS (the default): TLS over the bound socket.
    Poco::Net::SecureStreamSocket sock =
        Poco::Net::SecureStreamSocket::attach(plain, "127.0.0.1", microscape::testing::testClientContext());
    Poco::Net::HTTPClientSession s(sock);
    s.setTimeout(Poco::Timespan(30, 0));
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    req.setHost("127.0.0.1", port);
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() || method == "POST") {
        req.setContentType(contentType);
        req.setContentLength64(static_cast<Poco::Int64>(body.size()));
    }
    s.sendRequest(req) << body;
    Poco::Net::HTTPResponse resp;
    std::istream& in = s.receiveResponse(resp);
    Response r;
    r.status = static_cast<int>(resp.getStatus());
    Poco::StreamCopier::copyToString(in, r.body);
    for (const auto& [k, v] : resp) r.headers[Poco::toLower(k)] = v;
    return r;
}

std::string loginBody(const std::string& user, const std::string& password) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("username", user);
    o->set("password", password);
    return jsonString(o);
}

Response loginFrom(std::uint16_t port, const std::string& ip, const std::string& user, const std::string& pw) {
    return requestFrom(port, ip, "POST", "/api/v1/login", loginBody(user, pw));
}

double medianOf(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

Poco::JSON::Array::Ptr auditEntries(Client& admin, const std::string& query = "?limit=1000") {
    auto r = admin.get("/api/v1/audit" + query);
    REQUIRE(r.status == 200);
    return r.json()->getArray("entries");
}

int countAction(const Poco::JSON::Array::Ptr& entries, const std::string& action) {
    int n = 0;
    for (std::size_t i = 0; i < entries->size(); ++i)
        if (entries->getObject(static_cast<unsigned>(i))->getValue<std::string>("action") == action) ++n;
    return n;
}

}  // namespace

// Attack (finding 7): ten wrong passwords for "admin" from anywhere made the right
// password answer 429 for 15 minutes, so anyone could lock the owner out.
TEST_CASE("an attacker's failures from one address do not lock the owner out", "[controller][accounts]") {
    TestServer srv;
    // The waits are measured on the server's clock: stopped, they cannot run out
    // while a slow or loaded machine runs the attack (it once took long enough for
    // the attacker's last wait to end before the check below).
    srv.freezeClock();
    const auto port = srv.port();
    int unauthorised = 0, throttled = 0;
    for (int i = 0; i < 30; ++i) {
        auto r = loginFrom(port, "127.0.0.2", "admin", "wrong-guess-" + std::to_string(i));
        if (r.status == 401) ++unauthorised;
        if (r.status == 429) {
            ++throttled;
            CHECK(r.errorCode() == "too_many_attempts");
            CHECK(!r.headers["retry-after"].empty());
        }
    }
    INFO("401: " << unauthorised << ", 429: " << throttled);
    CHECK(unauthorised <= 8);  // 5 free failures, then waits that double (1 s, 2 s, ...)
    CHECK(throttled >= 22);
    // The attacker's own address stays throttled even with the right password...
    CHECK(loginFrom(port, "127.0.0.2", "admin", kAdminPassword).status == 429);
    // ...but the owner, elsewhere, logs in at once.
    CHECK(loginFrom(port, "127.0.0.3", "admin", kAdminPassword).status == 200);

    SECTION("attacked from many addresses, the account is slowed down, never refused") {
        for (int host = 10; host < 15; ++host)
            for (int i = 0; i < 6; ++i)
                loginFrom(port, "127.0.0." + std::to_string(host), "admin", "wrong-" + std::to_string(i));
        const auto t0 = std::chrono::steady_clock::now();
        auto r = loginFrom(port, "127.0.0.20", "admin", kAdminPassword);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("owner login during a distributed attack: %d after %.2f s\n", r.status, secs);
        CHECK(r.status == 200);
        CHECK(secs < 5.0);  // the per-account slowdown is capped at 2 s
    }
    SECTION("the wait grows and ends") {
        srv.advanceClock(16 * 60 * 1000);  // beyond the 15-minute cap
        CHECK(loginFrom(port, "127.0.0.2", "admin", kAdminPassword).status == 200);
    }
}

// Attack (finding 7): spraying one password over many usernames was not limited.
TEST_CASE("spraying many usernames from one address is throttled", "[controller][accounts]") {
    TestServer srv;
    srv.freezeClock();  // the waits cannot run out while the test runs
    const auto port = srv.port();
    int unauthorised = 0, throttled = 0;
    for (int i = 0; i < 60; ++i) {
        auto r = loginFrom(port, "127.0.0.6", "user" + std::to_string(i), "Spring2026!");
        if (r.status == 401) ++unauthorised;
        if (r.status == 429) ++throttled;
    }
    INFO("401: " << unauthorised << ", 429: " << throttled);
    CHECK(unauthorised <= 23);  // 20 free failures per address, then waits that double
    CHECK(throttled >= 37);
    // Another address is not affected.
    CHECK(loginFrom(port, "127.0.0.7", "user99", "Spring2026!").status == 401);
    CHECK(loginFrom(port, "127.0.0.7", "admin", kAdminPassword).status == 200);
    // The sprayer's wait doubles with each further failure.
    srv.advanceClock(5000);
    CHECK(loginFrom(port, "127.0.0.6", "user100", "Spring2026!").status == 401);
    CHECK(loginFrom(port, "127.0.0.6", "user101", "Spring2026!").status == 429);
}

TEST_CASE("login throttle: guesses in flight at once count as failures", "[controller][accounts][race]") {
    // Parallel requests all pass check() before the first password is hashed:
    // counted only when they fail, a burst of them would get past the wait.
    microscape::controller::LoginThrottle t;
    const std::int64_t now = 1'000'000;
    int allowed = 0;
    std::int64_t retryAfter = 0;
    for (int i = 0; i < 30; ++i) {
        auto d = t.check("192.0.2.9", "admin", now);
        if (d.allowed)
            ++allowed;
        else
            retryAfter = d.retryAfterMs;
    }
    CHECK(allowed == 6);  // as one after the other: five free failures, the sixth try, then a wait
    CHECK(retryAfter == 1'000);
    for (int i = 0; i < 6; ++i) t.recordFailure("192.0.2.9", "admin", now);
    CHECK_FALSE(t.check("192.0.2.9", "admin", now + 999).allowed);
    CHECK(t.check("192.0.2.9", "admin", now + 1'000).allowed);
    t.abandon("192.0.2.9", "admin");
    // An attempt that ends without an answer (an internal error) is not held against the pair.
    microscape::controller::LoginThrottle u;
    for (int i = 0; i < 6; ++i) REQUIRE(u.check("192.0.2.10", "ed", now).allowed);
    CHECK_FALSE(u.check("192.0.2.10", "ed", now).allowed);
    for (int i = 0; i < 6; ++i) u.abandon("192.0.2.10", "ed");
    CHECK(u.check("192.0.2.10", "ed", now).allowed);
    u.recordSuccess("192.0.2.10", "ed");
    CHECK(u.entries() == 0);
}

TEST_CASE("login throttle state stays bounded under a flood of names and addresses", "[controller][accounts]") {
    microscape::controller::LoginThrottlePolicy policy;
    policy.maxEntries = 500;
    microscape::controller::LoginThrottle t(policy);
    std::int64_t now = 1'000'000;
    for (int i = 0; i < 20000; ++i) {
        const std::string addr =
            "10." + std::to_string(i / 65536) + "." + std::to_string((i / 256) % 256) + "." + std::to_string(i % 256);
        t.recordFailure(addr, "name" + std::to_string(i), now++);
    }
    CHECK(t.entries() <= 3 * policy.maxEntries);
    // Still effective for a fresh attacker after the flood.
    for (int i = 0; i < 6; ++i) t.recordFailure("192.0.2.1", "admin", now);
    CHECK_FALSE(t.check("192.0.2.1", "admin", now).allowed);
    CHECK(t.check("192.0.2.2", "admin", now).allowed);
    // An IPv6 host is counted by its /64.
    CHECK(microscape::controller::LoginThrottle::addressKey("2001:db8:1:2:aaaa::1") ==
          microscape::controller::LoginThrottle::addressKey("2001:db8:1:2:bbbb::7"));
    CHECK(microscape::controller::LoginThrottle::addressKey("2001:db8:1:2::1") !=
          microscape::controller::LoginThrottle::addressKey("2001:db8:1:3::1"));
}

// Attack (finding 8): an unknown name answered in 3.3 ms, a known one in 134 ms,
// because the stand-in hash used 1,000 PBKDF2 iterations instead of 210,000.
TEST_CASE("login time does not reveal whether a username exists", "[controller][accounts]") {
    const int iterations = ControllerConfig{}.pbkdf2Iterations;  // the production cost
    REQUIRE(iterations == 210000);
    TestServer srv([&](ControllerConfig& c) { c.pbkdf2Iterations = iterations; });
    // Known names take turns so that none reaches the per-account slowdown (10).
    constexpr int kKnown = 8;
    for (int a = 0; a < kKnown; ++a) srv.userClient("known." + std::to_string(a), "editor", "禁毒");
    CHECK(microscape::controller::passwordHashIterations(microscape::controller::dummyPasswordHash(iterations)) ==
          iterations);
    const auto port = srv.port();
    auto timeLogin = [&](const std::string& ip, const std::string& user) {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = loginFrom(port, ip, user, "Wrong-password-1");
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        REQUIRE(r.status == 401);
        return ms;
    };
    timeLogin("127.0.1.1", "warm-up");  // the stand-in hash is made on first use
    std::vector<double> known, unknown;
    // Rounds of 15 pairs, each sample from its own address (below the per-address
    // limits); a loaded machine only adds time, so further rounds (up to four) are
    // taken while the fastest samples of the two sets are still apart.
    constexpr int kSamples = 15, kMaxRounds = 4;
    double kMin = 0, uMin = 0;
    for (int round = 0; round < kMaxRounds; ++round) {
        for (int i = 0; i < kSamples; ++i) {
            const int n = round * kSamples + i;
            const std::string ip = "127.0." + std::to_string(1 + round) + "." + std::to_string(10 + i);
            const std::string knownName = "known." + std::to_string(n % kKnown);
            if (i % 2 == 0) {  // alternate which goes first, so drift in the machine's load evens out
                known.push_back(timeLogin(ip, knownName));
                unknown.push_back(timeLogin(ip, "nobody" + std::to_string(n)));
            } else {
                unknown.push_back(timeLogin(ip, "nobody" + std::to_string(n)));
                known.push_back(timeLogin(ip, knownName));
            }
        }
        kMin = *std::min_element(known.begin(), known.end());
        uMin = *std::min_element(unknown.begin(), unknown.end());
        if (std::abs(kMin - uMin) / std::max(kMin, uMin) < 0.10) break;
    }
    const double k = medianOf(known), u = medianOf(unknown);
    const double diff = std::abs(k - u) / std::max(k, u);
    std::printf(
        "login timing (%d iterations, %d each): median known %.1f ms, unknown %.1f ms (%.1f %% "
        "apart); "
        "fastest known %.1f ms, unknown %.1f ms (%.1f %% apart)\n",
        iterations, static_cast<int>(known.size()), k, u, diff * 100, kMin, uMin,
        std::abs(kMin - uMin) / std::max(kMin, uMin) * 100);
    // The cost is the same by construction (same hash, same iteration count). A
    // loaded machine only ever adds time, so the fastest of each set is the cost an
    // attacker who repeats the request sees; the medians are printed, not checked
    // (on a busy CI machine they drifted 29 % apart with the fastest 1.6 % apart).
    // The flaw this guards against made them 97 % apart; the goal is within 10 %.
    (void)diff;
    CHECK(std::abs(kMin - uMin) / std::max(kMin, uMin) < 0.10);
}

// Attack (finding 9): after a password change or an admin reset, a stolen session
// or API token of the account went on working.
TEST_CASE("a password change or reset ends other sessions and revokes API tokens", "[controller][accounts]") {
    TestServer srv;
    Client ed = srv.userClient("ed", "editor", "禁毒");
    Client other = srv.client();
    REQUIRE(other.login("ed", "password-ed").status == 200);
    auto tok = ed.post("/api/v1/tokens", R"({"name":"script"})");
    REQUIRE(tok.status == 201);
    Client script = srv.client();
    script.useBearer(tok.json()->getValue<std::string>("token"));
    REQUIRE(script.get("/api/v1/me").status == 200);

    SECTION("own change keeps the session that made it") {
        auto r = ed.put("/api/v1/me/password", R"({"currentPassword":"password-ed","newPassword":"New-password-2"})");
        REQUIRE(r.status == 204);
        CHECK(ed.get("/api/v1/me").status == 200);
        CHECK(other.get("/api/v1/me").status == 401);
        CHECK(script.get("/api/v1/me").status == 401);
        CHECK(srv.client().login("ed", "New-password-2").status == 200);
    }
    SECTION("an admin reset ends all of them") {
        Client admin = srv.admin();
        auto users = admin.get("/api/v1/users").json()->getArray("users");
        std::int64_t id = 0;
        for (std::size_t i = 0; i < users->size(); ++i)
            if (users->getObject(static_cast<unsigned>(i))->getValue<std::string>("username") == "ed")
                id = users->getObject(static_cast<unsigned>(i))->getValue<std::int64_t>("id");
        REQUIRE(id > 0);
        REQUIRE(admin.patch("/api/v1/users/" + std::to_string(id), R"({"password":"Reset-password-3"})").status == 200);
        CHECK(ed.get("/api/v1/me").status == 401);
        CHECK(other.get("/api/v1/me").status == 401);
        CHECK(script.get("/api/v1/me").status == 401);
        CHECK(admin.get("/api/v1/me").status == 200);
    }
}

TEST_CASE("sessions end after idle time and at their absolute lifetime", "[controller][accounts]") {
    const ControllerConfig defaults;
    CHECK(defaults.sessionIdleSeconds == 30 * 60);
    CHECK(defaults.sessionTtlSeconds == 12 * 3600);
    TestServer srv;  // the defaults; the test moves the server's clock
    Client c = srv.admin();
    SECTION("idle") {
        srv.advanceClock(29 * 60 * 1000);
        CHECK(c.get("/api/v1/me").status == 200);  // use keeps it alive
        srv.advanceClock(29 * 60 * 1000);
        CHECK(c.get("/api/v1/me").status == 200);
        srv.advanceClock(31 * 60 * 1000);
        auto r = c.get("/api/v1/me");
        CHECK(r.status == 401);
        srv.advanceClock(-31 * 60 * 1000);  // gone for good, not just hidden
        CHECK(c.get("/api/v1/me").status == 401);
    }
    SECTION("absolute") {
        std::int64_t elapsedMs = 0;
        const std::int64_t stepMs = 25 * 60 * 1000;
        while (elapsedMs + stepMs < 12LL * 3600 * 1000) {
            srv.advanceClock(stepMs);
            elapsedMs += stepMs;
            REQUIRE(c.get("/api/v1/me").status == 200);
        }
        srv.advanceClock(stepMs);
        CHECK(c.get("/api/v1/me").status == 401);
    }
}

TEST_CASE("the password policy applies at creation, reset and change", "[controller][accounts]") {
    const ControllerConfig defaults;
    CHECK(defaults.passwordMinLength == 8);
    CHECK(defaults.passwordMinClasses == 3);
    TestServer srv([&](ControllerConfig& c) { c.passwordMinClasses = defaults.passwordMinClasses; });
    Client admin = srv.admin();
    auto weak = admin.post("/api/v1/users", R"({"username":"w","password":"password1","role":"auditor"})");
    CHECK(weak.status == 422);
    CHECK(weak.errorCode() == "weak_password");
    const std::string msg = weak.json()->getObject("error")->getValue<std::string>("message");
    CHECK(msg.find("at least 8 characters") != std::string::npos);
    CHECK(msg.find("密码至少 8 个字符") != std::string::npos);
    CHECK(admin.post("/api/v1/users", R"({"username":"w","password":"Pa1-x","role":"auditor"})").status == 422);
    auto ok = admin.post("/api/v1/users", R"({"username":"w","password":"Password1","role":"auditor"})");
    REQUIRE(ok.status == 201);
    const std::string id = std::to_string(ok.json()->getValue<std::int64_t>("id"));
    CHECK(admin.patch("/api/v1/users/" + id, R"({"password":"alllowercase"})").status == 422);
    CHECK(admin.patch("/api/v1/users/" + id, R"({"password":"口令-安全-2026a"})").status ==
          200);  // CJK counts as other
    Client w = srv.client();
    REQUIRE(w.login("w", "口令-安全-2026a").status == 200);
    CHECK(w.put("/api/v1/me/password", R"({"currentPassword":"口令-安全-2026a","newPassword":"12345678"})").status ==
          422);
    CHECK(
        w.put("/api/v1/me/password", R"({"currentPassword":"口令-安全-2026a","newPassword":"Longer-pass-9"})").status ==
        204);
    CHECK_FALSE(microscape::controller::passwordPolicyViolation("Abcdefg1", 8, 3));
    CHECK(microscape::controller::passwordPolicyViolation("Abcdef1", 8, 3));
    CHECK(microscape::controller::passwordPolicyViolation("abcdefgh1", 8, 3));
}

// Attack (finding 9): login accepted text/plain from a foreign Origin, so another
// site could log a visitor's browser into the attacker's account (login CSRF).
TEST_CASE("login needs a JSON body and a same-origin Origin", "[controller][accounts]") {
    TestServer srv;
    Client c = srv.client();
    const std::string body = loginBody("admin", kAdminPassword);
    auto plain = c.request("POST", "/api/v1/login", body, "text/plain");
    CHECK(plain.status == 415);
    CHECK(plain.errorCode() == "unsupported_media_type");
    CHECK(c.request("POST", "/api/v1/login", body, "application/x-www-form-urlencoded").status == 415);
    auto foreign = c.request("POST", "/api/v1/login", body, "application/json", {{"Origin", "http://evil.example"}});
    CHECK(foreign.status == 403);
    CHECK(c.request("POST", "/api/v1/login", body, "application/json", {{"Origin", "null"}}).status == 403);
    const std::string self = "http://127.0.0.1:" + std::to_string(srv.port());
    CHECK(c.request("POST", "/api/v1/login", body, "application/json; charset=utf-8", {{"Origin", self}}).status ==
          200);
    CHECK(c.request("POST", "/api/v1/login", body, "application/json").status == 200);  // scripts send no Origin
}

// Attack (finding 9): a newline in the username split the "failed login" log line,
// so a caller could forge log entries; the audit row held it raw too.
TEST_CASE("a control character in a username does not split a log line or audit row", "[controller][accounts]") {
    TestServer srv;
    Poco::AutoPtr<CapturingChannel> channel(new CapturingChannel);
    auto& apiLog = Poco::Logger::get("test.controller.api");
    apiLog.setChannel(channel);
    apiLog.setLevel(Poco::Message::PRIO_DEBUG);
    const std::string forged = "eve\n2026-01-01 INFO login ok for admin\r\x1b[2J";
    CHECK(srv.client().login(forged, "whatever-1").status == 401);
    apiLog.setChannel(nullptr);
    apiLog.setLevel(Poco::Message::PRIO_INFORMATION);
    bool found = false;
    for (const auto& line : channel->lines()) {
        CHECK(line.find('\n') == std::string::npos);
        CHECK(line.find('\r') == std::string::npos);
        CHECK(line.find('\x1b') == std::string::npos);
        if (line.find("failed login for 'eve\\n2026-01-01 INFO login ok for admin\\r\\x1b[2J'") != std::string::npos)
            found = true;
    }
    CHECK(found);
    Client admin = srv.admin();
    auto entries = auditEntries(admin, "?entity=session");
    bool audited = false;
    for (std::size_t i = 0; i < entries->size(); ++i) {
        auto e = entries->getObject(static_cast<unsigned>(i));
        if (e->getValue<std::string>("action") != "login_failed") continue;
        const std::string id = e->getValue<std::string>("entityId");
        CHECK(id.find('\n') == std::string::npos);
        audited = audited || id == "eve\\n2026-01-01 INFO login ok for admin\\r\\x1b[2J";
    }
    CHECK(audited);
    CHECK(microscape::controller::escapeControl(std::string("a\\b\u2028c\xC2\x85") + "d\xFF") ==
          "a\\\\b\\u2028c\\u0085d\\xff");
    CHECK(microscape::controller::escapeControl("禁毒 ok") == "禁毒 ok");
}

// Attack (finding 9): every unauthenticated failed login wrote an audit row, so a
// flood of them grew the audit table without bound.
TEST_CASE("failed logins write a bounded number of audit rows", "[controller][accounts]") {
    TestServer srv;
    srv.freezeClock();  // one audit-row window however long the 100 logins take
    const auto port = srv.port();
    for (int i = 0; i < 100; ++i)  // distinct addresses and names: no throttle in the way
        REQUIRE(loginFrom(port, "127.0.2." + std::to_string(i + 1), "ghost" + std::to_string(i), "x-Wrong-1").status ==
                401);
    Client admin = srv.admin();
    const int rows = countAction(auditEntries(admin), "login_failed");
    std::printf("100 failed logins in a minute wrote %d audit rows\n", rows);
    CHECK(rows <= 30);
    CHECK(rows >= 1);
    srv.advanceClock(61 * 1000);
    REQUIRE(loginFrom(port, "127.0.3.1", "ghost-late", "x-Wrong-1").status == 401);
    auto entries = auditEntries(admin);
    auto latest = entries->getObject(0);
    for (std::size_t i = 0; i < entries->size(); ++i) {
        latest = entries->getObject(static_cast<unsigned>(i));
        if (latest->getValue<std::string>("action") == "login_failed") break;
    }
    CHECK(latest->getValue<std::string>("entityId") == "ghost-late");
    CHECK(latest->getObject("after")->getValue<std::int64_t>("unrecordedFailuresBefore") == 100 - rows);
}

TEST_CASE("the session and password settings are read and bounded", "[controller][accounts]") {
    Poco::AutoPtr<Poco::Util::MapConfiguration> conf(new Poco::Util::MapConfiguration);
    conf->setString("controller.dataDir", "/tmp/x");
    conf->setString("auth.sessionIdleSeconds", "600");
    conf->setString("auth.passwordMinLength", "12");
    conf->setString("auth.passwordMinClasses", "4");
    auto r = microscape::controller::loadConfig(*conf);
    REQUIRE(r.ok());
    CHECK(r->sessionIdleSeconds == 600);
    CHECK(r->passwordMinLength == 12);
    CHECK(r->passwordMinClasses == 4);
    conf->setString("auth.passwordMinLength", "6");  // below the floor of 8
    CHECK_FALSE(microscape::controller::loadConfig(*conf).ok());
    conf->setString("auth.passwordMinLength", "8");
    conf->setString("auth.passwordMinClasses", "5");
    CHECK_FALSE(microscape::controller::loadConfig(*conf).ok());
}
