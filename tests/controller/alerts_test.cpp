// CAP 1.2 alerts through the real controller (docs/controller-api.md "Alerts"):
// an alert_feed account's POST /api/v1/alerts starts, changes and ends a takeover
// on the screens of the alert's area; bad alerts are refused and change nothing;
// signatures; the feed poller against an Atom feed on loopback. Times are built
// from the server's own clock (TestServer::nowMs), never from the date.
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>

#include <catch2/catch.hpp>
#include <map>
#include <mutex>

#include "cap.hpp"
#include "cap_fixtures.hpp"
#include "microscape/controller/repo.hpp"
#include "test_support.hpp"

using namespace microscape::testing;
namespace fx = microscape::testing::capfx;

namespace {

constexpr std::int64_t kHourMs = 3'600'000;

// Two districts of 柳州 with a screen each (the 城中区 one by code, the 鱼峰区 one
// by name only), a third place with no screen, and the issuing system's account.
struct World {
    TestServer& srv;
    Client admin;
    Client anon;
    Client feed;
    int chengzhong = 0, yufeng = 0, liunan = 0;
    std::string pChengzhong, pYufeng;

    explicit World(TestServer& s) : srv(s), admin(s.admin()), anon(s.client()), feed(s.client()) {
        chengzhong = createdId(admin.post(
            "/api/v1/locations", R"({"name":"五星商厦","venueType":"mall","district":"城中区","adminCode":"450202"})"));
        yufeng = createdId(
            admin.post("/api/v1/locations", R"({"name":"鱼峰山社区","venueType":"community","district":"鱼峰区"})"));
        liunan = createdId(admin.post(
            "/api/v1/locations",
            R"({"name":"柳南车库","venueType":"garage_entrance","district":"柳南区","adminCode":"450204"})"));
        pChengzhong = enrollPlayer(admin, anon, "cz-1", chengzhong);
        pYufeng = enrollPlayer(admin, anon, "yf-1", yufeng);
        Client account = srv.userClient("cap-feed", "alert_feed", "指挥中心", false);
        auto tok = account.post("/api/v1/tokens", R"({"name":"warning system"})");
        REQUIRE(tok.status == 201);
        feed.useBearer(tok.json()->getValue<std::string>("token"));
    }

    Response post(const std::string& xml, const std::string& type = "application/cap+xml") {
        return feed.request("POST", "/api/v1/alerts", xml, type);
    }
    std::string manifestOf(const std::string& player) {
        auto r = admin.get("/api/v1/players/" + player + "/manifest");
        REQUIRE(r.status == 200);
        return r.body;
    }
    Poco::JSON::Object::Ptr takeover(std::int64_t id) {
        auto list = admin.get("/api/v1/takeovers").json()->getArray("takeovers");
        for (const auto& v : *list) {
            auto o = v.extract<Poco::JSON::Object::Ptr>();
            if (o->getValue<std::int64_t>("id") == id) return o;
        }
        FAIL("no takeover " << id);
        return nullptr;
    }
    std::string sloganOf(std::int64_t mediaId) {
        auto r = admin.get("/api/v1/media/" + std::to_string(mediaId) + "/content");
        REQUIRE(r.status == 200);
        return r.body;
    }
    // What a refusal must leave alone.
    std::string state() {
        return std::to_string(admin.get("/api/v1/takeovers").json()->getArray("takeovers")->size()) + "/" +
               std::to_string(admin.get("/api/v1/alerts").json()->getArray("alerts")->size()) + "/" +
               std::to_string(admin.get("/api/v1/media").json()->getArray("media")->size()) + "/" +
               std::to_string(admin.get("/api/v1/playlists").json()->getArray("playlists")->size()) + "/" +
               manifestOf(pChengzhong) + manifestOf(pYufeng);
    }
};

fx::AlertSpec bridgeAlert(std::int64_t now) {
    fx::AlertSpec a;
    a.sentMs = now - 60'000;
    fx::InfoSpec en;
    en.language = "en-US";
    en.event = "Traffic control";
    en.headline = "Liujiang bridge closed";
    en.description = "Both directions closed tonight.";
    en.expiresMs = now + 2 * kHourMs;
    en.areas = {{"Chengzhong", {{"GB/T 2260", "450202"}}}};
    fx::InfoSpec zh;
    zh.expiresMs = now + 2 * kHourMs;
    zh.areas = {{"城中区", {{"GB/T 2260", "450202"}}}, {"柳江沿岸", {}}};
    a.infos = {en, zh};
    return a;
}

std::string tko(std::int64_t id) {
    return "\"tko-" + std::to_string(id) + "\"";
}

}  // namespace

TEST_CASE("a CAP alert becomes a takeover on its district's screens that Update changes and Cancel ends",
          "[controller][alerts]") {
    TestServer srv;
    srv.freezeClock();
    World w(srv);
    const std::int64_t now = srv.nowMs();
    const auto alert = bridgeAlert(now);
    const std::string xml = fx::alertXml(alert);

    auto r = w.post(xml);
    INFO(r.body);
    REQUIRE(r.status == 201);
    auto a = r.json();
    CHECK(a->getValue<std::string>("msgType") == "Alert");
    CHECK(a->getValue<std::string>("language") == "zh-CN");
    CHECK(a->getValue<std::string>("signature") == "unsigned");
    CHECK(a->getValue<std::string>("source") == "api");
    // <expires> of the zh-CN block (CAP times are whole seconds here).
    CHECK(microscape::controller::cap::parseTime(a->getValue<std::string>("expiresAt")) ==
          (now + 2 * kHourMs) / 1000 * 1000);
    REQUIRE(a->getArray("locationIds")->size() == 1);
    CHECK(a->getArray("locationIds")->getElement<int>(0) == w.chengzhong);
    const auto takeoverId = a->getValue<std::int64_t>("takeoverId");
    const auto firstMedia = a->getValue<std::int64_t>("mediaId");

    // A takeover like any other, marked as an alert's, until the alert's expiry.
    auto t = w.takeover(takeoverId);
    CHECK(t->getValue<std::string>("source") == "alert");
    CHECK(t->getObject("alert")->getValue<std::string>("severity") == "Severe");
    CHECK(t->getObject("alert")->getValue<std::string>("sender") == alert.sender);
    CHECK(t->getValue<bool>("active"));
    CHECK(t->getValue<std::string>("department") == "指挥中心");
    auto admin2 = srv.admin();
    auto expiresAt = admin2.get("/api/v1/alerts/" + a->getValue<std::string>("id")).json();
    CHECK(expiresAt->getValue<std::string>("xml") == xml);
    CHECK(t->getValue<std::string>("expiresAt") == expiresAt->getValue<std::string>("expiresAt"));

    // On the 城中区 screen's signed manifest, not on the 鱼峰区 one's.
    CHECK(w.manifestOf(w.pChengzhong).find(tko(takeoverId)) != std::string::npos);
    CHECK(w.manifestOf(w.pYufeng).find(tko(takeoverId)) == std::string::npos);

    // The zh-CN text, in the colours of its severity (Severe: orange), approved.
    auto media = w.admin.get("/api/v1/media/" + std::to_string(firstMedia)).json();
    CHECK(media->getValue<std::string>("state") == "approved");
    CHECK(media->getValue<std::string>("kind") == "text");
    const std::string slogan = w.sloganOf(firstMedia);
    CHECK(slogan.find("柳江大桥交通管制：今晚20时至次日6时柳江大桥双向封闭，请绕行。") != std::string::npos);
    CHECK(slogan.find("#EF6C00") != std::string::npos);

    SECTION("delivered again, it is the same alert and nothing changes") {
        const auto before = w.state();
        auto again = w.post(xml);
        REQUIRE(again.status == 200);
        CHECK(again.json()->getValue<bool>("deduplicated"));
        CHECK(again.json()->getValue<std::int64_t>("id") == a->getValue<std::int64_t>("id"));
        CHECK(w.state() == before);
    }

    SECTION("Update changes the text, colours and area; Cancel ends it") {
        fx::AlertSpec u = bridgeAlert(now);
        u.identifier = "LZGA-2026-0001-U1";
        u.sentMs = now;
        u.msgType = "Update";
        u.references = fx::ref(alert);
        u.infos[1].severity = "Extreme";
        u.infos[1].headline = "柳江大桥封闭延长";
        u.infos[1].description = "封闭延长至明日12时。";
        u.infos[1].expiresMs = now + 5 * kHourMs;
        u.infos[1].areas = {{"城中区、鱼峰区", {}}};
        auto ur = w.post(fx::alertXml(u));
        INFO(ur.body);
        REQUIRE(ur.status == 201);
        CHECK(ur.json()->getValue<std::int64_t>("takeoverId") == takeoverId);  // the same takeover, changed
        const auto newMedia = ur.json()->getValue<std::int64_t>("mediaId");
        CHECK(newMedia != firstMedia);
        CHECK(w.sloganOf(newMedia).find("柳江大桥封闭延长：封闭延长至明日12时。") != std::string::npos);
        CHECK(w.sloganOf(newMedia).find("#C62828") != std::string::npos);
        auto tu = w.takeover(takeoverId);
        CHECK(tu->getObject("alert")->getValue<std::string>("msgType") == "Update");
        CHECK(tu->getObject("alert")->getValue<std::string>("severity") == "Extreme");
        CHECK(tu->getValue<std::string>("expiresAt") == ur.json()->getValue<std::string>("expiresAt"));
        const std::string newSha =
            w.admin.get("/api/v1/media/" + std::to_string(newMedia)).json()->getValue<std::string>("sha256");
        CHECK(w.manifestOf(w.pChengzhong).find(newSha) != std::string::npos);
        CHECK(w.manifestOf(w.pYufeng).find(tko(takeoverId)) != std::string::npos);  // now both districts

        fx::AlertSpec c;
        c.identifier = "LZGA-2026-0001-C1";
        c.sentMs = now + 1000;
        c.msgType = "Cancel";
        c.references = fx::ref(alert) + " " + fx::ref(u);
        auto cr = w.post(fx::alertXml(c));
        INFO(cr.body);
        REQUIRE(cr.status == 201);
        auto tc = w.takeover(takeoverId);
        CHECK_FALSE(tc->isNull("cancelledAt"));
        CHECK_FALSE(tc->getValue<bool>("active"));
        CHECK(w.manifestOf(w.pChengzhong).find(tko(takeoverId)) == std::string::npos);
        CHECK(w.manifestOf(w.pYufeng).find(tko(takeoverId)) == std::string::npos);

        // Everything in the audit log, done by the feed's account.
        auto audit = w.admin.get("/api/v1/audit?entity=alert").json()->getArray("entries");
        CHECK(audit->size() == 3);
        auto takeoverAudit = w.admin.get("/api/v1/audit?entity=takeover").json()->getArray("entries");
        std::vector<std::string> actions;
        for (const auto& e : *takeoverAudit) {
            auto o = e.extract<Poco::JSON::Object::Ptr>();
            CHECK(o->getValue<std::string>("actor") == "cap-feed");
            actions.push_back(o->getValue<std::string>("action"));
        }
        CHECK(actions == std::vector<std::string>{"cancel", "update", "create"});
        // A Cancel of what has ended changes nothing.
        fx::AlertSpec c2 = c;
        c2.identifier = "LZGA-2026-0001-C2";
        const auto before = w.state();
        CHECK(w.post(fx::alertXml(c2)).status == 409);
        CHECK(w.state() == before);
    }

    SECTION("the alert is counted in the yearly report") {
        const std::string year = t->getValue<std::string>("startsAt").substr(0, 4);  // the server's year, not ours
        auto y = w.admin.get("/api/v1/reports/annual?year=" + year);
        REQUIRE(y.status == 200);
        CHECK(y.json()->getValue<int>("takeovers") >= 1);
        CHECK(y.json()->getValue<int>("alert_takeovers") == 1);
    }

    SECTION("a city-wide code reaches every district that has one") {
        fx::AlertSpec city = bridgeAlert(now);
        city.identifier = "LZQX-2026-0009";
        city.sender = "qixiang@liuzhou.gov.cn";
        city.infos = {city.infos[1]};
        city.infos[0].severity = "Moderate";
        city.infos[0].areas = {{"柳州市", {{"GB/T 2260", "450200"}}}};
        auto cr = w.post(fx::alertXml(city));
        INFO(cr.body);
        REQUIRE(cr.status == 201);
        auto ids = cr.json()->getArray("locationIds");
        REQUIRE(ids->size() == 2);  // 城中区 and 柳南区 have codes; 鱼峰区 has none
        CHECK(ids->getElement<int>(0) == w.chengzhong);
        CHECK(ids->getElement<int>(1) == w.liunan);
        // Another sender cannot change this sender's alert.
        fx::AlertSpec foreign = bridgeAlert(now);
        foreign.identifier = "X-1";
        foreign.msgType = "Cancel";
        foreign.references = fx::ref(city);
        auto fr = w.post(fx::alertXml(foreign));
        CHECK(fr.status == 422);
        CHECK(fr.errorCode() == "unknown_reference");
    }
}

TEST_CASE("bad CAP alerts are refused with a clear error and change nothing", "[controller][alerts]") {
    TestServer srv([](auto& c) { c.alertMaxBytes = 16 * 1024; });
    srv.freezeClock();
    World w(srv);
    const std::int64_t now = srv.nowMs();
    REQUIRE(w.post(fx::alertXml(bridgeAlert(now))).status == 201);  // something to leave alone
    const auto before = w.state();
    auto good = bridgeAlert(now);
    good.identifier = "LZGA-2026-0100";
    const std::string goodXml = fx::alertXml(good);
    auto replaced = [&](const std::string& from, const std::string& to) {
        std::string s = goodXml;
        const auto p = s.find(from);
        REQUIRE(p != std::string::npos);
        return s.replace(p, from.size(), to);
    };
    auto spec = [&](auto&& change) {
        auto s = good;
        change(s);
        return fx::alertXml(s);
    };
    struct Bad {
        const char* what;
        std::string xml;
        int status;
        const char* code;
        std::string type = "application/cap+xml";
    };
    const std::vector<Bad> cases = {
        {"not XML", "alert: bridge closed", 400, "not_xml"},
        {"truncated", goodXml.substr(0, 300), 400, "not_xml"},
        {"CAP 1.1 namespace", replaced("cap:1.2", "cap:1.1"), 400, "not_cap"},
        {"no identifier", replaced("<identifier>LZGA-2026-0100</identifier>", ""), 400, "missing_element"},
        {"no sent", replaced("<sent>" + fx::capTime(good.sentMs) + "</sent>", ""), 400, "missing_element"},
        {"no info", spec([](auto& s) { s.infos.clear(); }), 400, "missing_element"},
        {"bad severity", replaced("<severity>Severe</severity>", "<severity>Red</severity>"), 400, "bad_value"},
        {"DOCTYPE with entities",
         "<?xml version=\"1.0\"?><!DOCTYPE alert [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>" +
             goodXml.substr(goodXml.find("<alert")),
         400, "doctype_refused"},
        {"GBK bytes", replaced("柳江大桥交通管制", "\xc1\xf8\xbd\xad"), 400, "not_utf8"},
        {"too large", replaced("今晚20时", std::string(20 * 1024, 'x')), 413, "too_large"},
        {"expired", spec([&](auto& s) { s.infos[0].expiresMs = s.infos[1].expiresMs = now - 60'000; }), 422, "expired"},
        {"out of area", spec([](auto& s) {
             for (auto& i : s.infos) i.areas = {{"南宁市青秀区", {{"GB/T 2260", "450103"}}}};
         }),
         422, "out_of_area"},
        {"exercise", replaced("<status>Actual</status>", "<status>Exercise</status>"), 422, "not_actual"},
        {"restricted", replaced("<scope>Public</scope>", "<scope>Restricted</scope>"), 422, "not_public"},
        {"Update of an unknown alert", spec([&](auto& s) {
             s.msgType = "Update";
             s.references = s.sender + ",NO-SUCH-ALERT," + fx::capTime(now - kHourMs);
         }),
         422, "unknown_reference"},
        {"Cancel of an unknown alert", spec([&](auto& s) {
             s.msgType = "Cancel";
             s.references = s.sender + ",NO-SUCH-ALERT," + fx::capTime(now - kHourMs);
         }),
         422, "unknown_reference"},
        {"Update without references", spec([](auto& s) { s.msgType = "Update"; }), 400, "missing_element"},
        {"JSON instead of XML", "{}", 415, "unsupported_media_type", "application/json"},
        {"another charset", goodXml, 415, "unsupported_media_type", "application/cap+xml; charset=gb2312"},
    };
    for (const auto& c : cases) {
        auto r = w.post(c.xml, c.type);
        INFO(c.what << " -> " << r.status << " " << r.body);
        CHECK(r.status == c.status);
        CHECK(r.errorCode() == c.code);
        CHECK_FALSE(r.json()->getObject("error")->getValue<std::string>("message").empty());
        CHECK(w.state() == before);
    }
    // Only the alert_feed role may post alerts.
    Client ed = srv.userClient("ed", "editor", "交警");
    CHECK(ed.request("POST", "/api/v1/alerts", goodXml, "application/cap+xml").status == 403);
    CHECK(w.admin.request("POST", "/api/v1/alerts", goodXml, "application/cap+xml").status == 403);
    CHECK(w.state() == before);
    // ... and it reaches nothing else.
    CHECK(w.feed.get("/api/v1/media").status == 403);
    CHECK(w.feed.post("/api/v1/takeovers", "{}").status == 403);
}

TEST_CASE("with alerts.requireSignature, only alerts signed by a trusted key are taken", "[controller][alerts]") {
    TempDir keys;
    REQUIRE(fx::makeSigner(keys.path, "issuer"));
    REQUIRE(fx::makeSigner(keys.path, "stranger"));
    TestServer srv([&](auto& c) {
        c.alertRequireSignature = true;
        std::ifstream in(keys.path / "issuer-cert.pem");
        c.alertTrustedKeyPems = {std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>())};
        c.alertTrustedKeyFiles = {keys.path / "issuer-cert.pem"};
    });
    srv.freezeClock();
    World w(srv);
    const std::int64_t now = srv.nowMs();
    auto spec = bridgeAlert(now);
    spec.signatureTemplate = true;
    const std::string signedXml = fx::sign(keys.path, "issuer", fx::alertXml(spec));
    REQUIRE_FALSE(signedXml.empty());
    const auto before = w.state();
    auto unsignedSpec = bridgeAlert(now);
    auto r = w.post(fx::alertXml(unsignedSpec));
    CHECK(r.status == 422);
    CHECK(r.errorCode() == "signature_required");
    std::string tampered = signedXml;
    tampered.replace(tampered.find("城中区"), std::string("城中区").size(), "柳南区");
    r = w.post(tampered);
    CHECK(r.status == 422);
    CHECK(r.errorCode() == "bad_signature");
    r = w.post(fx::sign(keys.path, "stranger", fx::alertXml(spec)));
    CHECK(r.status == 422);
    CHECK(r.errorCode() == "bad_signature");
    CHECK(w.state() == before);
    r = w.post(signedXml);
    INFO(r.body);
    REQUIRE(r.status == 201);
    CHECK(r.json()->getValue<std::string>("signature") == "verified");
    CHECK(w.manifestOf(w.pChengzhong).find(tko(r.json()->getValue<std::int64_t>("takeoverId"))) != std::string::npos);
}

namespace {

// A feed publisher on loopback: serves fixed paths, counts requests per path.
class FeedSite {
  public:
    FeedSite() : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
        server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket_, new Poco::Net::HTTPServerParams);
        server_->start();
    }
    ~FeedSite() { server_->stopAll(true); }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(socket_.address().port()) + path;
    }
    void put(const std::string& path, std::string body) {
        std::lock_guard lock(mutex_);
        files_[path] = std::move(body);
    }
    int hits(const std::string& path) {
        std::lock_guard lock(mutex_);
        return hits_[path];
    }

  private:
    class Handler : public Poco::Net::HTTPRequestHandler {
      public:
        explicit Handler(FeedSite& site) : site_(site) {}
        void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
            std::optional<std::string> body;
            {
                std::lock_guard lock(site_.mutex_);
                ++site_.hits_[req.getURI()];
                if (auto it = site_.files_.find(req.getURI()); it != site_.files_.end()) body = it->second;
            }
            if (!body) {
                resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
                resp.send();
                return;
            }
            resp.setContentType("application/xml");
            resp.sendBuffer(body->data(), body->size());
        }

      private:
        FeedSite& site_;
    };
    class Factory : public Poco::Net::HTTPRequestHandlerFactory {
      public:
        explicit Factory(FeedSite& site) : site_(site) {}
        Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
            return new Handler(site_);
        }

      private:
        FeedSite& site_;
    };
    Poco::Net::ServerSocket socket_;
    std::unique_ptr<Poco::Net::HTTPServer> server_;
    std::mutex mutex_;  // guards files_, hits_
    std::map<std::string, std::string> files_;
    std::map<std::string, int> hits_;
};

}  // namespace

TEST_CASE("the feed poller takes alerts from an Atom feed on loopback once each", "[controller][alerts][feed]") {
    FeedSite site;
    TestServer srv([&](auto& c) {
        c.alertFeedUrl = site.url("/feed.xml");
        c.alertPollSeconds = 1;
    });
    srv.freezeClock();
    World w(srv);  // creates the cap-feed account the poller acts as
    const std::int64_t now = srv.nowMs();
    const auto alert = bridgeAlert(now);
    fx::AlertSpec update = bridgeAlert(now);
    update.identifier = "LZGA-2026-0001-U1";
    update.sentMs = now;
    update.msgType = "Update";
    update.references = fx::ref(alert);
    update.infos[1].headline = "柳江大桥封闭延长";
    const std::string alertXml = fx::alertXml(alert);
    site.put("/cap/u1.xml", fx::alertXml(update));
    // Newest first, as feeds are: the Update (linked), then the Alert (embedded),
    // then a link to another host, which is never fetched.
    site.put("/feed.xml",
             "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"
             "<title>柳州市预警信息</title><id>urn:test:feed</id>"
             "<entry><title>更新</title><link type=\"application/cap+xml\" href=\"/cap/u1.xml\"/></entry>"
             "<entry><title>发布</title><content type=\"text/xml\">" +
                 alertXml.substr(alertXml.find("<alert")) +
                 "</content></entry>"
                 "<entry><title>别处</title><link type=\"application/cap+xml\" "
                 "href=\"http://127.0.0.2:9/cap/elsewhere.xml\"/></entry></feed>");
    Poco::JSON::Array::Ptr alerts;
    REQUIRE(waitFor(
        [&] {
            alerts = w.admin.get("/api/v1/alerts").json()->getArray("alerts");
            return alerts->size() == 2;
        },
        15000));
    auto newest = alerts->getObject(0);
    CHECK(newest->getValue<std::string>("msgType") == "Update");
    CHECK(newest->getValue<std::string>("source") == "feed");
    CHECK(newest->getValue<std::string>("text").find("柳江大桥封闭延长") == 0);
    CHECK(alerts->getObject(1)->getValue<std::string>("msgType") == "Alert");
    const auto takeoverId = newest->getValue<std::int64_t>("takeoverId");
    CHECK(w.manifestOf(w.pChengzhong).find(tko(takeoverId)) != std::string::npos);
    // Later polls see the same messages again: nothing new is taken, the linked
    // message is not fetched again.
    const int feedHits = site.hits("/feed.xml");
    REQUIRE(waitFor([&] { return site.hits("/feed.xml") >= feedHits + 2; }, 10000));
    CHECK(w.admin.get("/api/v1/alerts").json()->getArray("alerts")->size() == 2);
    CHECK(w.admin.get("/api/v1/takeovers").json()->getArray("takeovers")->size() == 1);
    CHECK(site.hits("/cap/u1.xml") == 1);
}

TEST_CASE("a location's adminCode is set, changed, cleared and checked", "[controller][alerts][fleet]") {
    TestServer srv;
    Client admin = srv.admin();
    auto r = admin.post("/api/v1/locations", R"({"name":"万达广场","venueType":"mall","district":"天河区"})");
    const int id = createdId(r);
    CHECK(r.json()->getValue<std::string>("adminCode").empty());
    const std::string path = "/api/v1/locations/" + std::to_string(id);
    auto p = admin.patch(path, R"({"adminCode":" 440106 "})");
    REQUIRE(p.status == 200);
    CHECK(p.json()->getValue<std::string>("adminCode") == "440106");
    CHECK(admin.patch(path, R"({"adminCode":"4401'06"})").status == 400);
    CHECK(admin.patch(path, R"({"adminCode":"123456789012345678901234567890123"})").status == 400);
    CHECK(admin.get(path).json()->getValue<std::string>("adminCode") == "440106");
    p = admin.patch(path, R"({"adminCode":null})");
    REQUIRE(p.status == 200);
    CHECK(p.json()->getValue<std::string>("adminCode").empty());
}

TEST_CASE("two alerts with the same slogan taken at once share its media", "[controller][alerts][race]") {
    TestServer srv;
    srv.freezeClock();
    World w(srv);
    const std::int64_t now = srv.nowMs();
    auto first = bridgeAlert(now), second = bridgeAlert(now);
    second.identifier = "LZGA-2026-0002";  // another message, the same words
    std::vector<Response> out(2);
    // Both are let go while a third writer holds the audit log: the first then
    // waits there with the slogan's row inserted, the second on that row.
    whileHolding(
        srv.storeUrl(),
        [](microscape::controller::DbConn& c) {
            microscape::controller::repo::audit(
                c, microscape::controller::Actor{0, "test", microscape::controller::Role::Admin, {}}, "hold", "test",
                "1", "", "", 1'000);
        },
        {[&] { out[0] = Client(w.feed).request("POST", "/api/v1/alerts", fx::alertXml(first), "application/cap+xml"); },
         [&] {
             out[1] = Client(w.feed).request("POST", "/api/v1/alerts", fx::alertXml(second), "application/cap+xml");
         }});
    INFO(out[0].body << "\n" << out[1].body);
    REQUIRE(out[0].status == 201);
    REQUIRE(out[1].status == 201);
    CHECK(out[0].json()->getValue<std::int64_t>("mediaId") == out[1].json()->getValue<std::int64_t>("mediaId"));
}
