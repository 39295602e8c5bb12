// Fuzz target: the CAP 1.2 parser, the Atom/RSS feed parser and the XML-DSig
// check on arbitrary bytes (what POST /api/v1/alerts and a polled feed receive
// from outside, before anything else looks at them).
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "cap.hpp"
#include "cap_signature.hpp"
#include "fuzz_check.hpp"
#include "microscape/core/json.hpp"

using namespace microscape::controller;

namespace {

constexpr std::size_t kMax = 64 * 1024;

bool documented(const std::string& code) {
    static const std::set<std::string> kCodes = {"too_large", "not_utf8",      "doctype_refused",
                                                 "not_xml",   "not_cap",       "missing_element",
                                                 "bad_value", "bad_signature", "not_feed"};
    return kCodes.count(code) == 1;
}

// A verifier trusting one RSA key made at start: fuzzed input can never carry a
// signature that verifies under it.
const cap::SignatureVerifier& verifier() {
    static std::unique_ptr<cap::SignatureVerifier> v = [] {
        EVP_PKEY* key = EVP_RSA_gen(2048);
        FUZZ_CHECK(key);
        BIO* out = BIO_new(BIO_s_mem());
        FUZZ_CHECK(PEM_write_bio_PUBKEY(out, key));
        char* data = nullptr;
        const long n = BIO_get_mem_data(out, &data);
        std::string pem(data, static_cast<std::size_t>(n));
        BIO_free(out);
        EVP_PKEY_free(key);
        auto made = cap::SignatureVerifier::create({pem});
        FUZZ_CHECK(made.ok());
        return std::move(*made);
    }();
    return *v;
}

void checkMessage(std::string_view in) {
    auto m = cap::parseMessage(in, kMax);
    if (!m) {
        FUZZ_CHECK(documented(m.problem().code));
        FUZZ_CHECK(!m.problem().message.empty());
        return;
    }
    FUZZ_CHECK(in.size() <= kMax);
    FUZZ_CHECK(microscape::json::isValidUtf8(in.substr(in.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0)));
    FUZZ_CHECK(!m->identifier.empty() && !m->sender.empty());
    FUZZ_CHECK(m->identifier.find_first_of(" ,\t\n\r") == std::string::npos);
    FUZZ_CHECK(cap::parseTime(m->sent) == m->sentMs);
    FUZZ_CHECK(m->infos.size() <= cap::kMaxInfos);
    FUZZ_CHECK(m->references.size() <= cap::kMaxReferences);
    for (const auto& r : m->references) FUZZ_CHECK(cap::parseTime(r.sent).has_value());
    const cap::Info* shown = cap::chooseInfo(*m);
    FUZZ_CHECK((shown == nullptr) == m->infos.empty());
    std::vector<cap::Place> places{{1, "城中区", "450202"}, {2, "", "450200"}, {3, "x", ""}};
    for (const auto& i : m->infos) {
        FUZZ_CHECK(i.areas.size() <= cap::kMaxAreas);
        const std::string text = cap::sloganText(i, 1000);
        FUZZ_CHECK(text.size() <= 1000);
        FUZZ_CHECK(microscape::json::isValidUtf8(text));
        for (auto id : cap::matchPlaces(i.areas, places)) FUZZ_CHECK(id >= 1 && id <= 3);
    }
    auto v = verifier().verify(in, kMax);
    FUZZ_CHECK(!v.ok());
    FUZZ_CHECK(v.problem().code == "unsigned" || v.problem().code == "bad_signature");
    FUZZ_CHECK((v.problem().code == "unsigned") != m->signaturePresent || v.problem().code == "bad_signature");
}

void checkFeed(std::string_view in) {
    auto f = cap::parseFeed(in, kMax);
    if (!f) {
        FUZZ_CHECK(documented(f.problem().code));
        return;
    }
    FUZZ_CHECK(f->size() <= cap::kMaxFeedEntries);
    for (const auto& e : *f) {
        FUZZ_CHECK(!e.capXml.empty() || !e.link.empty());
        if (!e.capXml.empty()) {
            FUZZ_CHECK(microscape::json::isValidUtf8(e.capXml));
            (void)cap::parseMessage(e.capXml, kMax);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    checkMessage(in);
    checkFeed(in);
    (void)cap::parseTime(in);
    return 0;
}
