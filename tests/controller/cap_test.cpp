// CAP 1.2 parsing, area matching, feeds and XML-DSig verification (cap.hpp,
// cap_signature.hpp), in memory; signatures made with the xmlsec1 command.
#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "cap.hpp"
#include "cap_fixtures.hpp"
#include "cap_signature.hpp"

using namespace microscape::controller;
using namespace microscape::testing;
namespace fx = microscape::testing::capfx;

namespace {

constexpr std::int64_t kT0 = 1'776'240'000'000;  // any instant: these tests compare times with each other only
constexpr std::size_t kMax = 256 * 1024;

fx::AlertSpec twoLanguageAlert() {
    fx::AlertSpec a;
    a.sentMs = kT0;
    fx::InfoSpec en;
    en.language = "en-US";
    en.event = "Traffic control";
    en.headline = "Liujiang bridge closed";
    en.description = "Both directions closed 20:00-06:00.";
    en.expiresMs = kT0 + 3'600'000;
    en.areas = {{"Chengzhong District", {{"GB/T 2260", "450202"}}}};
    fx::InfoSpec zh;
    zh.expiresMs = kT0 + 3'600'000;
    zh.areas = {{"城中区", {{"GB/T 2260", "450202"}}}, {"鱼峰区、柳南区", {}}};
    a.infos = {en, zh};
    return a;
}

std::string problemCode(const std::string& xml, std::size_t max = kMax) {
    auto m = cap::parseMessage(xml, max);
    return m ? std::string("ok") : m.problem().code;
}

}  // namespace

TEST_CASE("a CAP 1.2 alert with zh-CN and en blocks and several areas parses", "[controller][cap]") {
    const std::string xml = fx::alertXml(twoLanguageAlert());
    auto m = cap::parseMessage(xml, kMax);
    INFO((m ? "" : m.problem().message));
    REQUIRE(m);
    CHECK(m->identifier == "LZGA-2026-0001");
    CHECK(m->sender == "jiaojing@liuzhou.gov.cn");
    CHECK(m->sentMs == kT0);
    CHECK(m->msgType == "Alert");
    CHECK_FALSE(m->signaturePresent);
    REQUIRE(m->infos.size() == 2);
    const cap::Info* shown = cap::chooseInfo(*m);
    REQUIRE(shown);
    CHECK(shown->language == "zh-CN");  // although en-US comes first
    CHECK(shown->expiresMs == kT0 + 3'600'000);
    REQUIRE(shown->areas.size() == 2);
    CHECK(shown->areas[0].geocodes.at(0).value == "450202");
    CHECK(shown->severity == "Severe");
    SECTION("without zh-CN, the first block is shown") {
        auto a = twoLanguageAlert();
        a.infos.pop_back();
        auto only = cap::parseMessage(fx::alertXml(a), kMax);
        REQUIRE(only);
        CHECK(cap::chooseInfo(*only)->language == "en-US");
    }
    SECTION("references are sender,identifier,sent triples") {
        auto a = twoLanguageAlert();
        a.msgType = "Update";
        a.identifier = "LZGA-2026-0002";
        a.references = fx::ref(twoLanguageAlert()) + " other@x.cn,X-1," + fx::capTime(kT0 - 1000);
        auto u = cap::parseMessage(fx::alertXml(a), kMax);
        REQUIRE(u);
        REQUIRE(u->references.size() == 2);
        CHECK(u->references[0] == cap::Reference{"jiaojing@liuzhou.gov.cn", "LZGA-2026-0001", fx::capTime(kT0)});
        CHECK(u->references[1].sender == "other@x.cn");
    }
}

TEST_CASE("CAP times are read with their offsets", "[controller][cap]") {
    CHECK(cap::parseTime("2026-04-15T16:00:00+08:00") == cap::parseTime("2026-04-15T08:00:00Z"));
    CHECK(cap::parseTime("2026-04-15T08:00:00-00:00") == cap::parseTime("2026-04-15T08:00:00Z"));
    CHECK(*cap::parseTime("2026-04-15T08:00:00.250Z") - *cap::parseTime("2026-04-15T08:00:00Z") == 250);
    CHECK(fx::capTime(*cap::parseTime("2026-02-28T23:30:00+08:00")) == "2026-02-28T23:30:00+08:00");
    for (const char* bad : {"2026-04-15", "2026-04-15T08:00:00", "2026-02-30T08:00:00Z", "2026-04-15T24:00:00Z",
                            "2026-04-15T08:00:00+8:00", "2026-04-15 08:00:00Z", "2026-04-15T08:00:00Zjunk"})
        CHECK_FALSE(cap::parseTime(bad));
}

TEST_CASE("malformed and hostile CAP messages are refused with a code", "[controller][cap]") {
    const std::string good = fx::alertXml(twoLanguageAlert());
    REQUIRE(problemCode(good) == "ok");
    auto replaced = [&](const std::string& from, const std::string& to) {
        std::string s = good;
        auto p = s.find(from);
        REQUIRE(p != std::string::npos);
        return s.replace(p, from.size(), to);
    };
    CHECK(problemCode("this is not XML") == "not_xml");
    CHECK(problemCode(good.substr(0, good.size() / 2)) == "not_xml");  // truncated
    CHECK(problemCode("") == "not_xml");
    CHECK(problemCode(replaced("urn:oasis:names:tc:emergency:cap:1.2", "urn:oasis:names:tc:emergency:cap:1.1")) ==
          "not_cap");
    CHECK(problemCode(replaced(" xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"", "")) == "not_cap");
    CHECK(problemCode("<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"/>") == "not_cap");
    CHECK(problemCode(replaced("<identifier>LZGA-2026-0001</identifier>", "")) == "missing_element");
    CHECK(problemCode(replaced("<sender>jiaojing@liuzhou.gov.cn</sender>", "<sender></sender>")) == "missing_element");
    CHECK(problemCode(replaced("<scope>Public</scope>", "")) == "missing_element");
    CHECK(problemCode(replaced("<event>交通管制</event>", "")) == "missing_element");
    CHECK(problemCode(replaced("<areaDesc>城中区</areaDesc>", "")) == "missing_element");
    CHECK(problemCode(replaced("<severity>Severe</severity>", "<severity>Bad</severity>")) == "bad_value");
    CHECK(problemCode(replaced("<msgType>Alert</msgType>", "<msgType>Alert</msgType><msgType>Cancel</msgType>")) ==
          "bad_value");
    CHECK(problemCode(replaced("<identifier>LZGA-2026-0001</identifier>", "<identifier>a b</identifier>")) ==
          "bad_value");
    CHECK(problemCode(replaced(fx::capTime(kT0), "yesterday")) == "bad_value");
    CHECK(problemCode(replaced("<scope>Public</scope>",
                               "<scope>Public</scope><references>only-two,parts</references>")) == "bad_value");
    SECTION("no DOCTYPE, no entities, nothing external") {
        const std::string laughs =
            "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 "
            "\"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]><alert "
            "xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>&lol2;</identifier></alert>";
        CHECK(problemCode(laughs) == "doctype_refused");
        const std::string xxe =
            "<?xml version=\"1.0\"?><!DOCTYPE alert SYSTEM \"http://127.0.0.1:9/x.dtd\"><alert "
            "xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"/>";
        CHECK(problemCode(xxe) == "doctype_refused");
        // An undeclared entity is an error, not a lookup.
        CHECK(problemCode(replaced("交通管制</event>", "&xxe;</event>")) == "not_xml");
    }
    SECTION("UTF-8 only, and within the size limit") {
        CHECK(problemCode(replaced("柳江大桥交通管制", "\xc1\xf8\xbd\xad")) == "not_utf8");  // GBK bytes
        CHECK(problemCode(replaced("encoding=\"UTF-8\"", "encoding=\"GB2312\"")) == "not_utf8");
        CHECK(problemCode(good, good.size() - 1) == "too_large");
        CHECK(problemCode("\xEF\xBB\xBF" + good) == "ok");  // a byte order mark is fine
    }
}

TEST_CASE("areas match locations by district name or administrative code", "[controller][cap]") {
    CHECK(cap::codeCovers("450202", "450202"));
    CHECK(cap::codeCovers("450200", "450202"));        // the city covers its districts
    CHECK(cap::codeCovers("450000", "450202"));        // the region too
    CHECK(cap::codeCovers("450202", "450202001000"));  // a district covers its streets
    CHECK_FALSE(cap::codeCovers("450202", "450203"));
    CHECK_FALSE(cap::codeCovers("450202", "4502"));
    CHECK(cap::codeCovers("450200", "450200"));
    CHECK_FALSE(cap::codeCovers("450202001000", "450202"));  // a street does not cover its district
    CHECK_FALSE(cap::codeCovers("000000", "450202"));        // "00" pairs are dropped down to two digits only
    CHECK_FALSE(cap::codeCovers("", "450202"));
    CHECK_FALSE(cap::codeCovers("450202", ""));
    const std::vector<cap::Place> places{
        {1, "城中区", "450202"}, {2, "鱼峰区", "450203"}, {3, "柳南区", ""}, {4, "柳北区", "450205"}};
    using Ids = std::vector<std::int64_t>;
    CHECK(cap::matchPlaces({{"城中区", {}}}, places) == Ids{1});
    CHECK(cap::matchPlaces({{"城中区、柳南区", {}}}, places) == Ids{1, 3});
    CHECK(cap::matchPlaces({{"柳州市区", {{"GB/T 2260", "450203"}}}}, places) == Ids{2});
    CHECK(cap::matchPlaces({{"柳州市", {{"GB/T 2260", "450200"}}}}, places) == Ids{1, 2, 4});
    CHECK(cap::matchPlaces({{"南宁市", {{"GB/T 2260", "450100"}}}}, places).empty());
    CHECK(cap::matchPlaces({}, places).empty());
}

TEST_CASE("an alert's slogan: one line, cut at a character, coloured by severity", "[controller][cap]") {
    cap::Info i;
    i.headline = "暴雨红色预警";
    i.description = "柳江水位上涨，\n  沿江低洼地带\t请转移。";
    CHECK(cap::sloganText(i, 1000) == "暴雨红色预警：柳江水位上涨， 沿江低洼地带 请转移。");
    const std::string cut = cap::sloganText(i, 20);
    CHECK(cut.size() <= 20);
    CHECK(cut.substr(cut.size() - 3) == "…");
    i.headline.clear();
    i.description.clear();
    i.event = "Flood";
    CHECK(cap::sloganText(i, 1000) == "Flood");
    CHECK(std::string(cap::coloursFor("Extreme").background) == "#C62828");
    CHECK(std::string(cap::coloursFor("Severe").background) == "#EF6C00");
    CHECK(std::string(cap::coloursFor("Moderate").background) == "#FDD835");
    CHECK(std::string(cap::coloursFor("Moderate").text) == "#000000");
    CHECK(std::string(cap::coloursFor("Minor").background) == "#1565C0");
    CHECK(std::string(cap::coloursFor("Unknown").background) == "#424242");
}

TEST_CASE("Atom and RSS feeds yield embedded and linked CAP messages", "[controller][cap]") {
    const std::string alert = fx::alertXml(twoLanguageAlert());
    const std::string body = alert.substr(alert.find("<alert"));
    const std::string atom =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">"
        "<title>预警</title><entry><title>a</title><content type=\"text/xml\">" +
        body +
        "</content></entry><entry><title>b</title>"
        "<link rel=\"alternate\" href=\"/page.html\"/>"
        "<link rel=\"related\" type=\"application/cap+xml\" href=\"/cap/2.xml\"/></entry>"
        "<entry><title>nothing</title></entry></feed>";
    auto f = cap::parseFeed(atom, kMax);
    INFO((f ? "" : f.problem().message));
    REQUIRE(f);
    REQUIRE(f->size() == 2);
    auto embedded = cap::parseMessage((*f)[0].capXml, kMax);
    INFO((*f)[0].capXml);
    REQUIRE(embedded);
    CHECK(embedded->identifier == "LZGA-2026-0001");
    CHECK((*f)[1].link == "/cap/2.xml");
    const std::string rss =
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>"
        "<item><title>x</title><link>http://127.0.0.1/cap/3.xml</link></item>"
        "<item><title>y</title><enclosure url=\"/cap/4.xml\" type=\"application/cap+xml\"/></item>"
        "<item><description>" +
        fx::escape(alert) + "</description></item></channel></rss>";
    auto r = cap::parseFeed(rss, kMax);
    REQUIRE(r);
    REQUIRE(r->size() == 3);
    CHECK((*r)[0].link == "http://127.0.0.1/cap/3.xml");
    CHECK((*r)[1].link == "/cap/4.xml");
    CHECK(cap::parseMessage((*r)[2].capXml, kMax));
    CHECK(cap::parseFeed(alert, kMax).problem().code == "not_feed");
    CHECK(cap::parseFeed("<!DOCTYPE rss><rss/>", kMax).problem().code == "doctype_refused");
}

TEST_CASE("XML-DSig: an enveloped RSA-SHA256 signature verifies under a pinned key only", "[controller][cap]") {
    TempDir dir;
    REQUIRE(fx::makeSigner(dir.path, "issuer"));
    REQUIRE(fx::makeSigner(dir.path, "stranger"));
    auto readPem = [&](const std::string& f) {
        std::ifstream in(dir.path / f);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    auto verifier = cap::SignatureVerifier::create({readPem("issuer-cert.pem")});
    REQUIRE(verifier);
    auto spec = twoLanguageAlert();
    spec.signatureTemplate = true;
    const std::string signedXml = fx::sign(dir.path, "issuer", fx::alertXml(spec));
    REQUIRE_FALSE(signedXml.empty());
    auto ok = (*verifier)->verify(signedXml, kMax);
    INFO((ok ? "" : ok.problem().message));
    CHECK(ok);
    auto parsed = cap::parseMessage(signedXml, kMax);
    REQUIRE(parsed);
    CHECK(parsed->signaturePresent);

    SECTION("a public key PEM is trusted as a certificate is") {
        REQUIRE(runShell("openssl x509 -in '" + (dir.path / "issuer-cert.pem").string() + "' -pubkey -noout > '" +
                         (dir.path / "issuer-pub.pem").string() + "'") == 0);
        auto byKey = cap::SignatureVerifier::create({readPem("stranger-cert.pem"), readPem("issuer-pub.pem")});
        REQUIRE(byKey);
        auto v = (*byKey)->verify(signedXml, kMax);
        REQUIRE(v);
        CHECK(*v == 1);
    }
    SECTION("a changed text does not verify") {
        std::string tampered = signedXml;
        const auto p = tampered.find("今晚20时");
        REQUIRE(p != std::string::npos);
        tampered.replace(p, std::string("今晚20时").size(), "今晚21时");
        CHECK((*verifier)->verify(tampered, kMax).problem().code == "bad_signature");
    }
    SECTION("another key's signature does not verify") {
        const std::string other = fx::sign(dir.path, "stranger", fx::alertXml(spec));
        REQUIRE_FALSE(other.empty());
        CHECK((*verifier)->verify(other, kMax).problem().code == "bad_signature");
    }
    SECTION("unsigned is named as such") {
        CHECK((*verifier)->verify(fx::alertXml(twoLanguageAlert()), kMax).problem().code == "unsigned");
    }
    SECTION("a signature moved inside <info>, doubled, or over a fragment is refused") {
        const auto sigStart = signedXml.find("<Signature");
        const auto sigEnd = signedXml.find("</Signature>") + std::string("</Signature>").size();
        const std::string sig = signedXml.substr(sigStart, sigEnd - sigStart);
        std::string moved = signedXml;
        moved.erase(sigStart, sigEnd - sigStart);
        moved.insert(moved.find("</info>"), sig);
        CHECK((*verifier)->verify(moved, kMax).problem().code == "bad_signature");
        std::string doubled = signedXml;
        doubled.insert(sigEnd, sig);
        CHECK((*verifier)->verify(doubled, kMax).problem().code == "bad_signature");
        CHECK(cap::parseMessage(doubled, kMax).problem().code == "bad_signature");
        std::string fragment = signedXml;
        fragment.replace(fragment.find("URI=\"\""), 6, "URI=\"#x\"");
        CHECK((*verifier)->verify(fragment, kMax).problem().code == "bad_signature");
    }
    SECTION("a key file that is not a key is refused at start-up") {
        CHECK_FALSE(cap::SignatureVerifier::create({"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}));
    }
}
