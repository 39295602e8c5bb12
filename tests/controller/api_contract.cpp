#include "api_contract.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <algorithm>
#include <optional>

namespace microscape::testing {

namespace {

std::vector<std::string> segmentsOf(const std::string& path) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i <= path.size()) {
        auto j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        out.push_back(path.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

bool isTemplate(const std::string& seg) {
    return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

std::string bareType(const std::string& contentType) {
    return Poco::toLower(Poco::trim(contentType.substr(0, contentType.find(';'))));
}

bool allDigits(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<Poco::Dynamic::Var> parseJson(const std::string& text) {
    try {
        Poco::JSON::Parser p;
        return p.parse(text);
    } catch (const Poco::Exception&) {
        return std::nullopt;
    }
}

// Whether `type` is one of the declared media types (with */* and type/* ranges).
bool declared(const Poco::JSON::Object::Ptr& content, const std::string& type) {
    for (const auto& [k, v] : *content) {
        if (k == type || k == "*/*") return true;
        if (k.size() > 2 && k.substr(k.size() - 2) == "/*" && type.rfind(k.substr(0, k.size() - 1), 0) == 0)
            return true;
    }
    return false;
}

}  // namespace

ApiContract::ApiContract(Poco::JSON::Object::Ptr document)
    : doc_(std::move(document)), schemas_(doc_->getObject("components")->getObject("schemas")) {
    schemas_.lintAll();
}

std::vector<std::string> ApiContract::check(const Exchange& e) const {
    std::vector<std::string> problems;
    const std::string where = e.method + " " + e.target + " -> " + std::to_string(e.status) + ": ";
    auto fail = [&](const std::string& what) { problems.push_back(where + what); };
    Poco::URI uri;
    try {
        uri = Poco::URI(e.target);
    } catch (const Poco::Exception&) {
        return problems;  // a malformed target is the transport's business
    }
    const std::string path = uri.getPath();
    if (path.rfind("/api/", 0) != 0 && path != "/healthz" && path != "/metrics") return problems;  // console files

    // The path item: the match with the most literal segments wins (/media/slogans over /media/{id}).
    const auto want = segmentsOf(path);
    Poco::JSON::Object::Ptr item;
    std::vector<std::string> itemSegs;
    int bestLiterals = -1;
    for (const auto& [pattern, v] : *doc_->getObject("paths")) {
        const auto segs = segmentsOf(pattern);
        if (segs.size() != want.size()) continue;
        int literals = 0;
        bool ok = true;
        for (std::size_t i = 0; i < segs.size() && ok; ++i) {
            if (isTemplate(segs[i]))
                ok = !want[i].empty();
            else if (segs[i] == want[i])
                ++literals;
            else
                ok = false;
        }
        if (ok && literals > bestLiterals) {
            bestLiterals = literals;
            item = v.extract<Poco::JSON::Object::Ptr>();
            itemSegs = segs;
        }
    }
    if (!item) {
        if (e.status != 404) fail("no documented path, yet not 404");
        return problems;
    }
    const bool head = e.method == "HEAD";
    const std::string method = head ? "get" : Poco::toLower(e.method);
    if (!item->has(method)) {
        if (e.status != 405) fail("method not documented for this path, yet not 405");
        return problems;
    }
    const auto op = item->getObject(method);

    // Is the request valid by the document?
    std::string invalid;
    if (op->has("parameters")) {
        const auto params = op->getArray("parameters");
        const auto query = uri.getQueryParameters();
        for (std::size_t i = 0; i < params->size() && invalid.empty(); ++i) {
            const auto p = params->getObject(static_cast<unsigned>(i));
            const std::string name = p->getValue<std::string>("name");
            const auto schema = p->getObject("schema");
            const std::string type = schema->getValue<std::string>("type");
            std::vector<std::string> values;
            if (p->getValue<std::string>("in") == "path") {
                for (std::size_t s = 0; s < itemSegs.size(); ++s)
                    if (itemSegs[s] == "{" + name + "}") values.push_back(want[s]);
            } else {
                for (const auto& [k, v] : query)
                    if (k == name) values.push_back(v);
            }
            for (const auto& v : values) {
                if (type == "integer") {
                    const bool negative = !v.empty() && v[0] == '-';
                    if (!allDigits(negative ? v.substr(1) : v) || v.size() > 19 ||
                        (schema->has("minimum") &&
                         (negative || std::stoll(v) < schema->getValue<Poco::Int64>("minimum"))))
                        invalid = name + " is not a valid integer";
                } else if (type == "boolean") {
                    if (v != "true" && v != "false") invalid = name + " is not true or false";
                } else if (auto bad = schemas_.check(Poco::Dynamic::Var(v), schema, name)) {
                    invalid = *bad;
                }
            }
        }
    }
    if (invalid.empty() && op->has("requestBody")) {
        const auto rb = op->getObject("requestBody");
        const auto content = rb->getObject("content");
        if (content->has("application/json")) {
            const bool required = rb->optValue<bool>("required", false);
            if (e.requestBody.empty()) {
                if (required) invalid = "no body";
            } else if (bareType(e.requestType) != "application/json") {
                invalid = "body of an undeclared media type";
            } else {
                auto v = parseJson(e.requestBody);
                if (!v)
                    invalid = "body is not JSON";
                else if (auto bad =
                             schemas_.check(*v, content->getObject("application/json")->getObject("schema"), "body"))
                    invalid = *bad;
            }
        }
    }
    if (!invalid.empty() && e.status < 400)
        fail("the document calls the request invalid (" + invalid + "), yet it succeeded");

    // Is the answer what the document promises?
    const auto responses = op->getObject("responses");
    const std::string code = std::to_string(e.status);
    const std::string range = code.substr(0, 1) + "XX";
    Poco::JSON::Object::Ptr resp;
    if (responses->has(code))
        resp = responses->getObject(code);
    else if (responses->has(range))
        resp = responses->getObject(range);
    if (!resp) {
        fail("status not documented");
        return problems;
    }
    if (head) return problems;
    if (!resp->has("content")) {
        if (!e.responseBody.empty()) fail("a body where the document declares none");
        return problems;
    }
    const auto content = resp->getObject("content");
    const std::string type = bareType(e.responseType);
    if (!declared(content, type)) {
        fail("media type '" + type + "' not documented");
        return problems;
    }
    if (type == "application/json" && content->has("application/json")) {
        auto v = parseJson(e.responseBody);
        if (!v)
            fail("body is not JSON");
        else if (auto bad = schemas_.check(*v, content->getObject("application/json")->getObject("schema"), "body"))
            fail(*bad);
    }
    return problems;
}

}  // namespace microscape::testing
