// The legal-education days (普法节点) campaigns are planned around: seeded with
// the national days, read by everyone, kept by admins, every change audited.
#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace microscape::testing;

TEST_CASE("legal-education days are seeded, read by all and kept by admins", "[controller][observances]") {
    TestServer srv;
    auto admin = srv.admin();
    auto ed = srv.userClient("ed", "editor", "禁毒");

    auto list = ed.get("/api/v1/observances");
    REQUIRE(list.status == 200);
    auto days = list.json()->getArray("observances");
    REQUIRE(days->size() == 11);
    // In calendar order, the national days among them.
    std::vector<std::string> names;
    int lastKey = 0;
    for (std::size_t i = 0; i < days->size(); ++i) {
        auto o = days->getObject(static_cast<unsigned>(i));
        const int key = o->getValue<int>("month") * 100 + o->getValue<int>("day");
        CHECK(key >= lastKey);
        lastKey = key;
        names.push_back(o->getValue<std::string>("name"));
        if (o->getValue<std::string>("name") == "国家宪法日") {
            CHECK(o->getValue<int>("month") == 12);
            CHECK(o->getValue<int>("day") == 4);
            CHECK(o->getValue<std::string>("theme") == "法治教育");
        }
    }
    for (const char* n : {"中国人民警察节", "全民国家安全教育日", "国际禁毒日", "全国交通安全日", "国家宪法日"})
        CHECK(std::find(names.begin(), names.end(), n) != names.end());

    // Editors read the list but do not keep it.
    CHECK(ed.post("/api/v1/observances", R"({"name":"禁毒宣传月","month":6,"day":1})").status == 403);

    SECTION("an admin adds, changes and removes a day; each change is in the audit log") {
        auto r = admin.post(
            "/api/v1/observances",
            R"({"name":"全国防范非法集资宣传日","month":6,"day":15,"theme":"反诈防骗","daysBefore":7,"daysAfter":0})");
        REQUIRE(r.status == 201);
        const int id = createdId(r);
        CHECK(r.json()->getValue<int>("daysBefore") == 7);
        CHECK(admin.get("/api/v1/observances").json()->getArray("observances")->size() == 12);
        auto p = admin.patch("/api/v1/observances/" + std::to_string(id), R"({"theme":null,"daysAfter":2})");
        REQUIRE(p.status == 200);
        CHECK(p.json()->isNull("theme"));
        CHECK(p.json()->getValue<int>("daysAfter") == 2);
        CHECK(p.json()->getValue<int>("daysBefore") == 7);
        CHECK(admin.del("/api/v1/observances/" + std::to_string(id)).status == 204);
        CHECK(admin.patch("/api/v1/observances/" + std::to_string(id), R"({"day":1})").status == 404);
        auto audit = admin.get("/api/v1/audit?entity=observance").json()->getArray("entries");
        REQUIRE(audit->size() == 3);
        CHECK(audit->getObject(0)->getValue<std::string>("action") == "delete");
        CHECK(audit->getObject(2)->getValue<std::string>("action") == "create");
    }

    SECTION("a day that does not exist, or a malformed one, is refused and nothing changes") {
        for (const std::string body :
             {R"({"name":"x","month":13,"day":1})", R"({"name":"x","month":4,"day":31})",
              R"({"name":"x","month":2,"day":30})", R"({"name":" ","month":1,"day":1})",
              R"({"name":"x","month":1,"day":1,"daysBefore":61})", R"({"name":"x","month":"1","day":1})",
              R"({"name":"x","month":1,"day":1,"year":2026})", R"({"month":1,"day":1})"}) {
            INFO(body);
            auto r = admin.post("/api/v1/observances", body);
            CHECK(r.status == 400);
            CHECK(r.errorCode() == "bad_request");
        }
        CHECK(admin.get("/api/v1/observances").json()->getArray("observances")->size() == 11);
        // 29 February is a day (in leap years; the console suggests the next one).
        CHECK(admin.post("/api/v1/observances", R"({"name":"闰日","month":2,"day":29})").status == 201);
    }
}
