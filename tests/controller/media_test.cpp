#include <catch2/catch.hpp>

#include "../support/process.hpp"
#include "test_support.hpp"

using namespace microscape::testing;

namespace {

std::string multipart(const std::string& boundary, const std::string& fileName, const std::string& bytes,
                      const std::map<std::string, std::string>& fields) {
    std::string b;
    for (const auto& [k, v] : fields)
        b += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + k + "\"\r\n\r\n" + v + "\r\n";
    b += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + fileName +
         "\"\r\nContent-Type: application/octet-stream\r\n\r\n" + bytes + "\r\n--" + boundary + "--\r\n";
    return b;
}

std::size_t filesIn(const fs::path& dir) {
    std::size_t n = 0;
    for (auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) ++n;
    return n;
}

}  // namespace

TEST_CASE("media upload: streaming, probing, dedupe, download", "[controller][media]") {
    TestServer srv;
    TempDir fx;
    Client ed = srv.userClient("ed", "editor", "反诈中心");
    const std::string png = makePng(fx.path, "反诈防骗 守护钱袋");

    auto r =
        ed.request("POST", "/api/v1/media?filename=%E6%B5%B7%E6%8A%A5.png&tags=%E5%8F%8D%E8%AF%88%E9%98%B2%E9%AA%97",
                   png, "application/octet-stream");
    INFO(r.body);
    REQUIRE(r.status == 201);
    auto m = r.json();
    CHECK(m->getValue<std::string>("kind") == "image");
    CHECK(m->getValue<std::string>("mime") == "image/png");
    CHECK(m->getValue<std::string>("state") == "draft");
    CHECK(m->getValue<std::string>("name") == "海报.png");
    CHECK(m->getValue<std::string>("department") == "反诈中心");
    CHECK(m->getValue<int>("width") == 320);
    CHECK(m->getValue<int>("height") == 180);
    CHECK(m->getArray("tags")->getElement<std::string>(0) == "反诈防骗");
    const int id = m->getValue<int>("id");

    SECTION("the same bytes again are deduplicated") {
        auto again = ed.request("POST", "/api/v1/media?filename=copy.png", png, "image/png");
        CHECK(again.status == 200);
        CHECK(again.json()->getValue<bool>("deduplicated"));
        CHECK(again.json()->getValue<int>("id") == id);
    }
    SECTION("download returns the exact bytes, with ranges") {
        auto d = ed.get("/api/v1/media/" + std::to_string(id) + "/content");
        CHECK(d.status == 200);
        CHECK(d.body == png);
        CHECK(d.headers["content-type"] == "image/png");
        auto part =
            ed.request("GET", "/api/v1/media/" + std::to_string(id) + "/content", "", "", {{"Range", "bytes=0-7"}});
        CHECK(part.status == 206);
        CHECK(part.body == png.substr(0, 8));
    }
    SECTION("multipart video upload is probed for duration") {
        const std::string mp4 = makeMp4(fx.path, 2);
        auto v = ed.request("POST", "/api/v1/media",
                            multipart("XyZ", "禁毒宣传.mp4", mp4, {{"name", "禁毒 短片"}, {"tags", "禁毒,法治教育"}}),
                            "multipart/form-data; boundary=XyZ");
        INFO(v.body);
        REQUIRE(v.status == 201);
        auto vj = v.json();
        CHECK(vj->getValue<std::string>("kind") == "video");
        CHECK(vj->getValue<std::string>("name") == "禁毒 短片");
        CHECK(vj->getValue<std::string>("fileName") == "禁毒宣传.mp4");
        CHECK(vj->getValue<int>("durationMs") >= 1500);
        CHECK(vj->getValue<int>("durationMs") <= 2500);
        CHECK(vj->getArray("tags")->size() == 2);
    }
    SECTION("list and filter") {
        auto l = ed.get("/api/v1/media?tag=%E5%8F%8D%E8%AF%88%E9%98%B2%E9%AA%97");
        CHECK(l.json()->getArray("media")->size() == 1);
        CHECK(ed.get("/api/v1/media?state=approved").json()->getArray("media")->size() == 0);
        auto unknown = ed.get("/api/v1/media?state=approve");  // not a state: refused, not an empty list
        CHECK(unknown.status == 400);
        CHECK(unknown.body.find("draft, pending, approved or rejected") != std::string::npos);
    }
}

TEST_CASE("media upload rejects bad input and leaves nothing behind", "[controller][media]") {
    TestServer srv([](auto& c) { c.maxUploadBytes = 200 * 1024; });
    TempDir fx;
    Client ed = srv.userClient("ed", "editor", "交警");
    const auto mediaDir = srv.dataDir() / "media";
    const std::size_t before = filesIn(mediaDir);

    SECTION("not an image or video") {
        std::string junk(5000, 'x');
        auto r = ed.request("POST", "/api/v1/media?filename=a.png", junk, "image/png");
        CHECK(r.status == 415);
        CHECK(r.errorCode() == "unknown_format");
        // The error names no server path (it named the temporary file).
        CHECK(r.body.find(srv.dataDir().string()) == std::string::npos);
        CHECK(r.body.find("/tmp") == std::string::npos);
        CHECK(r.body.find("\\/tmp") == std::string::npos);
    }
    SECTION("a truncated PNG is not decodable") {
        std::string png = makePng(fx.path, "截断");
        auto r = ed.request("POST", "/api/v1/media?filename=cut.png", png.substr(0, 60), "image/png");
        CHECK(r.status == 422);
        CHECK(r.errorCode() == "truncated");
        INFO(r.body);
        CHECK_THAT(r.body, Catch::Contains("the file ends after 60 bytes"));
        CHECK(r.body.find(srv.dataDir().string()) == std::string::npos);
        CHECK(r.body.find("media/tmp") == std::string::npos);
        CHECK(r.body.find("media\\/tmp") == std::string::npos);
    }
    SECTION("path-like file names") {
        std::string png = makePng(fx.path, "路径");
        auto r = ed.request("POST", "/api/v1/media?filename=..%2F..%2Fetc%2Fpasswd", png, "image/png");
        CHECK(r.status == 400);
        CHECK(r.errorCode() == "bad_filename");
        auto r2 = ed.request("POST", "/api/v1/media", multipart("B", "../../etc/passwd", png, {}),
                             "multipart/form-data; boundary=B");
        CHECK(r2.status == 400);
        CHECK(r2.errorCode() == "bad_filename");
        CHECK(ed.request("POST", "/api/v1/media", png, "image/png").status == 400);  // no name at all
    }
    SECTION("oversized, by Content-Length and while streaming") {
        std::string big(300 * 1024, 'a');
        auto r = ed.request("POST", "/api/v1/media?filename=big.mp4", big, "video/mp4");
        CHECK(r.status == 413);
        CHECK(r.errorCode() == "too_large");
        auto r2 =
            ed.request("POST", "/api/v1/media", multipart("B", "big.mp4", big, {}), "multipart/form-data; boundary=B");
        CHECK(r2.status == 413);
    }
    SECTION("empty body") {
        CHECK(ed.request("POST", "/api/v1/media?filename=e.png", "", "image/png").status == 400);
    }
    SECTION("editor may not upload for another department") {
        std::string png = makePng(fx.path, "部门");
        auto r = ed.request("POST", "/api/v1/media?filename=x.png&department=%E7%A6%81%E6%AF%92", png, "image/png");
        CHECK(r.status == 403);
    }
    CHECK(filesIn(mediaDir) == before);
    CHECK(srv.admin().get("/api/v1/media").json()->getArray("media")->size() == 0);
}

TEST_CASE("approval state machine", "[controller][media]") {
    TestServer srv;
    TempDir fx;
    Client ed = srv.userClient("ed", "editor", "禁毒");
    Client ap = srv.userClient("ap", "approver");
    Client admin = srv.admin();
    auto up = ed.request("POST", "/api/v1/media?filename=p.png", makePng(fx.path, "禁毒"), "image/png");
    REQUIRE(up.status == 201);
    const std::string base = "/api/v1/media/" + std::to_string(up.json()->getValue<int>("id"));

    CHECK(ap.post(base + "/approve", "").status == 409);  // still draft
    REQUIRE(ed.post(base + "/submit", "").status == 200);
    CHECK(ed.post(base + "/submit", "").status == 409);    // already pending
    CHECK(ed.post(base + "/approve", "").status == 403);   // editors never approve, not even their own upload
    CHECK(ap.post(base + "/reject", "{}").status == 400);  // reason required
    auto rej = ap.post(base + "/reject", R"({"reason":"字太小"})");
    REQUIRE(rej.status == 200);
    CHECK(rej.json()->getValue<std::string>("state") == "rejected");
    CHECK(rej.json()->getValue<std::string>("reviewReason") == "字太小");
    REQUIRE(ed.post(base + "/submit", "").status == 200);
    auto ok = ap.post(base + "/approve", "");
    REQUIRE(ok.status == 200);
    CHECK(ok.json()->getValue<std::string>("state") == "approved");

    SECTION("nobody approves their own upload, admins included") {
        auto own = admin.request("POST", "/api/v1/media?filename=a.png", makePng(fx.path, "自审"), "image/png");
        REQUIRE(own.status == 201);
        auto ob = "/api/v1/media/" + std::to_string(own.json()->getValue<int>("id"));
        REQUIRE(admin.post(ob + "/submit", "").status == 200);
        auto r = admin.post(ob + "/approve", "");
        CHECK(r.status == 403);
        CHECK(ap.post(ob + "/approve", "").status == 200);
    }
    SECTION("another department's editor cannot touch it") {
        Client other = srv.userClient("ed2", "editor", "交警");
        CHECK(other.patch(base, R"({"name":"改名"})").status == 403);
        CHECK(ed.patch(base, R"({"name":"改名"})").status == 200);
    }
    SECTION("approved media cannot be deleted before it is withdrawn") {
        CHECK(ed.del(base).status == 409);
    }
}

TEST_CASE("text slogans are media", "[controller][media]") {
    TestServer srv;
    Client ed = srv.userClient("ed", "editor", "交警");
    auto r = ed.post("/api/v1/media/slogans",
                     R"({"text":"一盔一带 安全常在","style":{"color":"#FFFFFF","fontSizePx":64},"tags":["一盔一带"]})");
    INFO(r.body);
    REQUIRE(r.status == 201);
    auto j = r.json();
    CHECK(j->getValue<std::string>("kind") == "text");
    CHECK(j->getObject("slogan")->getValue<std::string>("text") == "一盔一带 安全常在");
    auto content = ed.get("/api/v1/media/" + std::to_string(j->getValue<int>("id")) + "/content");
    CHECK(content.body.rfind("{\"microscape_slogan\":1", 0) == 0);
    CHECK(ed.post("/api/v1/media/slogans", R"({"text":"x","style":{"color":"red"}})").status == 400);
    CHECK(ed.post("/api/v1/media/slogans", R"({"text":12})").status == 400);
    CHECK(ed.post("/api/v1/media/slogans", R"({"text":"ok",)").status == 400);
}

// (No ": " far into a test name: Catch's console reporter indents the lines
// after the first at that column and aborts when it passes the line width.)
TEST_CASE(
    "a CMYK JPEG and an MPEG-2 transport stream, which the parser cannot size, are accepted when a picture "
    "really decodes, with their sizes and length, and a cut-off stream is refused",
    "[controller][media][probe]") {
    TestServer srv;
    TempDir fx;
    Client ed = srv.userClient("ed", "editor", "交警");
    const auto cmyk = fx.path / "print-shop-cmyk.jpg";
    REQUIRE(runShell("/usr/bin/convert -size 320x180 gradient:red-blue -colorspace CMYK -quality 90 " +
                     cmyk.string()) == 0);
    REQUIRE(runShell("/usr/bin/identify -format %[colorspace] " + cmyk.string() + " | grep -q CMYK") == 0);
    auto r = ed.request("POST", "/api/v1/media?filename=cmyk.jpg", readFile(cmyk), "image/jpeg");
    INFO(r.body);
    REQUIRE(r.status == 201);
    CHECK(r.json()->getValue<std::string>("kind") == "image");
    CHECK(r.json()->getValue<int>("width") == 320);
    CHECK(r.json()->getValue<int>("height") == 180);

    const auto ts = fx.path / "tv-station.ts";
    REQUIRE(runShell("ffmpeg -loglevel error -y -f lavfi -i testsrc=size=352x288:rate=25:duration=3 -c:v mpeg2video "
                     "-f mpegts " +
                     ts.string()) == 0);
    auto v = ed.request("POST", "/api/v1/media?filename=clip.ts", readFile(ts), "video/mp2t");
    INFO(v.body);
    REQUIRE(v.status == 201);
    CHECK(v.json()->getValue<std::string>("kind") == "video");
    CHECK(v.json()->getValue<int>("width") == 352);
    CHECK(v.json()->getValue<int>("height") == 288);
    const auto length = v.json()->getValue<std::int64_t>("durationMs");
    CHECK(length >= 2500);
    CHECK(length <= 3500);

    // The first 2 KB of the stream: no picture decodes.
    auto cut = ed.request("POST", "/api/v1/media?filename=cut.ts", readFile(ts).substr(0, 2048), "video/mp2t");
    CHECK(cut.status == 422);
    CHECK(cut.errorCode() == "no_picture");
}
