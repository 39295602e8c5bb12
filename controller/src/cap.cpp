#include "cap.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

#include "cap_xml.hpp"

namespace microscape::controller::cap {

namespace {

constexpr const char* kDsigNs = "http://www.w3.org/2000/09/xmldsig#";
constexpr const char* kAtomNs = "http://www.w3.org/2005/Atom";

Problem problem(std::string code, std::string message) {
    return Problem{std::move(code), std::move(message)};
}

bool isSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string trim(std::string_view s) {
    std::size_t b = 0, e = s.size();
    while (b < e && isSpace(s[b])) ++b;
    while (e > b && isSpace(s[e - 1])) --e;
    return std::string(s.substr(b, e - b));
}

bool inNs(const xmlNode* n, std::string_view ns) {
    return n->ns && n->ns->href && std::string_view(reinterpret_cast<const char*>(n->ns->href)) == ns;
}

bool isElement(const xmlNode* n, std::string_view ns, std::string_view name) {
    return n && n->type == XML_ELEMENT_NODE && inNs(n, ns) &&
           std::string_view(reinterpret_cast<const char*>(n->name)) == name;
}

bool isCap(const xmlNode* n, std::string_view name) {
    return isElement(n, kNamespace, name);
}

std::vector<xmlNode*> capChildren(xmlNode* parent, std::string_view name) {
    std::vector<xmlNode*> out;
    for (xmlNode* c = parent->children; c; c = c->next)
        if (isCap(c, name)) out.push_back(c);
    return out;
}

std::string contentOf(const xmlNode* n) {
    xmlChar* raw = xmlNodeGetContent(n);
    if (!raw) return {};
    std::string s(reinterpret_cast<const char*>(raw));
    xmlFree(raw);
    return s;
}

// Reads CAP child elements of one parent: each singular one at most once, its
// text trimmed and bounded. The first refusal is kept; later reads return "".
class Reader {
  public:
    Reader(xmlNode* parent, std::string where) : parent_(parent), where_(std::move(where)) {}

    std::optional<std::string> optional(std::string_view name) {
        auto found = capChildren(parent_, name);
        if (found.empty()) return std::nullopt;
        if (found.size() > 1) {
            fail("bad_value", where_ + " has more than one <" + std::string(name) + ">");
            return std::nullopt;
        }
        return textOf(found.front(), name);
    }
    std::string required(std::string_view name) {
        auto v = optional(name);
        if (!failed() && (!v || v->empty())) fail("missing_element", where_ + " has no <" + std::string(name) + ">");
        return v.value_or("");
    }
    std::string oneOf(std::string_view name, std::initializer_list<std::string_view> allowed) {
        auto v = required(name);
        if (failed()) return v;
        if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
            std::string list;
            for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
            fail("bad_value", where_ + ": <" + std::string(name) + "> '" + v + "' is not one of " + list);
        }
        return v;
    }
    std::optional<std::int64_t> time(std::string_view name) {
        auto v = optional(name);
        if (!v || failed()) return std::nullopt;
        auto t = parseTime(*v);
        if (!t) fail("bad_value", where_ + ": <" + std::string(name) + "> '" + *v + "' is not a CAP dateTime");
        return t;
    }
    std::string textOf(xmlNode* n, std::string_view name) {
        std::string s = trim(contentOf(n));
        if (s.size() > kMaxTextBytes) {
            fail("bad_value",
                 where_ + ": <" + std::string(name) + "> is longer than " + std::to_string(kMaxTextBytes) + " bytes");
            return {};
        }
        return s;
    }
    void fail(std::string code, std::string message) {
        if (!problem_) problem_ = Problem{std::move(code), std::move(message)};
    }
    bool failed() const { return problem_.has_value(); }
    const Problem& problemValue() const { return *problem_; }

  private:
    xmlNode* parent_;
    std::string where_;
    std::optional<Problem> problem_;
};

// CAP 1.2 §3.2.1: identifiers and senders hold no spaces, commas or restricted characters.
bool validToken(const std::string& s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (c <= ' ' || c == ',' || c == '<' || c == '&') return false;
    return true;
}

Parsed<Info> readInfo(xmlNode* n, std::size_t index) {
    const std::string where = "<info> " + std::to_string(index + 1);
    Reader r(n, where);
    Info info;
    if (auto v = r.optional("language"); v && !v->empty()) info.language = *v;
    const auto categories = capChildren(n, "category");
    if (categories.empty()) r.fail("missing_element", where + " has no <category>");
    for (auto* c : categories) {
        const std::string v = r.textOf(c, "category");
        static constexpr std::string_view kCategories[] = {"Geo",    "Met", "Safety",    "Security", "Rescue", "Fire",
                                                           "Health", "Env", "Transport", "Infra",    "CBRNE",  "Other"};
        if (!r.failed() && std::find(std::begin(kCategories), std::end(kCategories), v) == std::end(kCategories))
            r.fail("bad_value", where + ": <category> '" + v + "' is not a CAP 1.2 category");
    }
    info.event = r.required("event");
    info.urgency = r.oneOf("urgency", {"Immediate", "Expected", "Future", "Past", "Unknown"});
    info.severity = r.oneOf("severity", {"Extreme", "Severe", "Moderate", "Minor", "Unknown"});
    info.certainty = r.oneOf("certainty", {"Observed", "Likely", "Possible", "Unlikely", "Unknown"});
    info.senderName = r.optional("senderName").value_or("");
    info.headline = r.optional("headline").value_or("");
    info.description = r.optional("description").value_or("");
    info.instruction = r.optional("instruction").value_or("");
    info.effectiveMs = r.time("effective");
    info.onsetMs = r.time("onset");
    info.expiresMs = r.time("expires");
    const auto areas = capChildren(n, "area");
    if (areas.size() > kMaxAreas)
        r.fail("bad_value", where + " has more than " + std::to_string(kMaxAreas) + " <area> elements");
    for (std::size_t a = 0; a < areas.size() && !r.failed(); ++a) {
        const std::string aw = where + " <area> " + std::to_string(a + 1);
        Reader ar(areas[a], aw);
        Area area;
        area.areaDesc = ar.required("areaDesc");
        const auto geocodes = capChildren(areas[a], "geocode");
        if (geocodes.size() > kMaxGeocodes)
            ar.fail("bad_value", aw + " has more than " + std::to_string(kMaxGeocodes) + " <geocode> elements");
        for (std::size_t g = 0; g < geocodes.size() && !ar.failed(); ++g) {
            Reader gr(geocodes[g], aw + " <geocode> " + std::to_string(g + 1));
            Geocode gc{gr.required("valueName"), gr.required("value")};
            if (gr.failed()) ar.fail(gr.problemValue().code, gr.problemValue().message);
            area.geocodes.push_back(std::move(gc));
        }
        if (ar.failed()) r.fail(ar.problemValue().code, ar.problemValue().message);
        info.areas.push_back(std::move(area));
    }
    if (r.failed()) return r.problemValue();
    return info;
}

Parsed<std::vector<Reference>> readReferences(const std::string& text) {
    std::vector<Reference> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && isSpace(text[i])) ++i;
        std::size_t e = i;
        while (e < text.size() && !isSpace(text[e])) ++e;
        if (e == i) break;
        const std::string triple = text.substr(i, e - i);
        i = e;
        const auto c1 = triple.find(',');
        const auto c2 = c1 == std::string::npos ? std::string::npos : triple.find(',', c1 + 1);
        if (c2 == std::string::npos || triple.find(',', c2 + 1) != std::string::npos)
            return problem("bad_value", "<references>: '" + triple + "' is not sender,identifier,sent");
        Reference r{triple.substr(0, c1), triple.substr(c1 + 1, c2 - c1 - 1), triple.substr(c2 + 1)};
        if (r.sender.empty() || r.identifier.empty() || !parseTime(r.sent))
            return problem("bad_value", "<references>: '" + triple + "' is not sender,identifier,sent");
        if (out.size() >= kMaxReferences)
            return problem("bad_value", "<references> names more than " + std::to_string(kMaxReferences) + " messages");
        out.push_back(std::move(r));
    }
    return out;
}

int digits(std::string_view s, std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
        if (i >= s.size() || s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

std::int64_t daysFromCivil(int y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digitsOnly(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Splits an areaDesc into the names it may list ("城中区、鱼峰区", "A; B").
std::vector<std::string> namesIn(const std::string& desc) {
    std::vector<std::string> out{trim(desc)};
    static const std::string_view kSeparators[] = {",", ";", " ", "\t", "\n", "，", "、", "；"};
    std::string rest = desc;
    for (auto sep : kSeparators) {
        std::string::size_type p;
        while ((p = rest.find(sep)) != std::string::npos) rest.replace(p, sep.size(), "\x1f");
    }
    std::size_t i = 0;
    while (i <= rest.size()) {
        auto e = rest.find('\x1f', i);
        if (e == std::string::npos) e = rest.size();
        if (e > i) out.push_back(rest.substr(i, e - i));
        i = e + 1;
    }
    return out;
}

std::string attr(const xmlNode* n, const char* name) {
    xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
    if (!v) return {};
    std::string s(reinterpret_cast<const char*>(v));
    xmlFree(v);
    return trim(s);
}

std::string localName(const xmlNode* n) {
    return reinterpret_cast<const char*>(n->name);
}

xmlNode* findCapAlert(xmlNode* n) {
    for (xmlNode* c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        if (isCap(c, "alert")) return c;
        if (auto* d = findCapAlert(c)) return d;
    }
    return nullptr;
}

// The <alert> element as a document of its own, with the namespaces it uses.
std::string serialiseAlone(xmlNode* alert) {
    std::unique_ptr<xmlDoc, xml::DocFree> doc(xmlNewDoc(reinterpret_cast<const xmlChar*>("1.0")));
    xmlNode* copy = xmlDocCopyNode(alert, doc.get(), 1);
    if (!copy) return {};
    xmlDocSetRootElement(doc.get(), copy);
    xmlReconciliateNs(doc.get(), copy);
    xmlChar* buf = nullptr;
    int len = 0;
    xmlDocDumpMemoryEnc(doc.get(), &buf, &len, "UTF-8");
    std::string out = buf ? std::string(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(len)) : "";
    xmlFree(buf);
    return out;
}

bool looksLikeCap(const std::string& text) {
    const std::string t = trim(text);
    return t.rfind("<?xml", 0) == 0 || t.rfind("<alert", 0) == 0;
}

FeedEntry readEntry(xmlNode* entry, bool atom) {
    FeedEntry e;
    if (auto* a = findCapAlert(entry)) {
        e.capXml = serialiseAlone(a);
        return e;
    }
    for (xmlNode* c = entry->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        const std::string name = localName(c);
        if ((name == "content" || name == "description" || name == "summary") && looksLikeCap(contentOf(c))) {
            e.capXml = trim(contentOf(c));
            return e;
        }
    }
    std::string fallback;
    for (xmlNode* c = entry->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        const std::string name = localName(c);
        if (atom && name == "link" && inNs(c, kAtomNs)) {
            const std::string href = attr(c, "href"), type = attr(c, "type"), rel = attr(c, "rel");
            if (href.empty()) continue;
            if (type.find("cap") != std::string::npos || type.find("xml") != std::string::npos) {
                e.link = href;
                return e;
            }
            if (fallback.empty() && (rel.empty() || rel == "alternate" || rel == "enclosure")) fallback = href;
        } else if (!atom && name == "enclosure" && c->ns == nullptr) {
            if (auto url = attr(c, "url"); !url.empty()) {
                e.link = url;
                return e;
            }
        } else if (!atom && name == "link" && c->ns == nullptr && fallback.empty()) {
            fallback = trim(contentOf(c));
        }
    }
    e.link = fallback;
    return e;
}

}  // namespace

std::optional<std::int64_t> parseTime(std::string_view s) {
    // YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm)
    if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return std::nullopt;
    const int y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2), h = digits(s, 11, 2),
              mi = digits(s, 14, 2), se = digits(s, 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
        return std::nullopt;
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > kDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return std::nullopt;
    std::size_t i = 19;
    std::int64_t fracMs = 0;
    if (i < s.size() && s[i] == '.') {
        std::size_t n = 0;
        ++i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            if (n < 3) fracMs = fracMs * 10 + (s[i] - '0');
            ++n;
            ++i;
        }
        if (n == 0) return std::nullopt;
        for (std::size_t k = n; k < 3; ++k) fracMs *= 10;
    }
    std::int64_t offsetMin = 0;
    if (i < s.size() && s[i] == 'Z') {
        ++i;
    } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        const int oh = digits(s, i + 1, 2), om = digits(s, i + 4, 2);
        if (oh < 0 || oh > 14 || om < 0 || om > 59) return std::nullopt;
        offsetMin = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != s.size()) return std::nullopt;
    const std::int64_t days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
    const std::int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offsetMin * 60;
    return secs * 1000 + fracMs;
}

Parsed<Message> parseMessage(std::string_view xmlBytes, std::size_t maxBytes) {
    auto doc = xml::parseHardened(xmlBytes, maxBytes, "alert");
    if (!doc) return doc.problem();
    xmlNode* root = xmlDocGetRootElement(doc->get());
    if (!root || !isCap(root, "alert")) {
        std::string seen = root ? "<" + localName(root) + ">" : "nothing";
        if (root && root->ns && root->ns->href)
            seen += " in namespace " + std::string(reinterpret_cast<const char*>(root->ns->href));
        else if (root)
            seen += " in no namespace";
        return problem("not_cap",
                       "expected a CAP 1.2 <alert> (namespace " + std::string(kNamespace) + "), found " + seen);
    }
    Reader r(root, "<alert>");
    Message m;
    m.identifier = r.required("identifier");
    m.sender = r.required("sender");
    m.sent = r.required("sent");
    m.status = r.oneOf("status", {"Actual", "Exercise", "System", "Test", "Draft"});
    m.msgType = r.oneOf("msgType", {"Alert", "Update", "Cancel", "Ack", "Error"});
    m.scope = r.oneOf("scope", {"Public", "Restricted", "Private"});
    if (r.failed()) return r.problemValue();
    if (!validToken(m.identifier))
        return problem("bad_value", "<identifier> must not be empty or hold spaces, commas, '<' or '&'");
    if (!validToken(m.sender))
        return problem("bad_value", "<sender> must not be empty or hold spaces, commas, '<' or '&'");
    auto sent = parseTime(m.sent);
    if (!sent) return problem("bad_value", "<sent> '" + m.sent + "' is not a CAP dateTime");
    m.sentMs = *sent;
    if (auto refs = r.optional("references")) {
        auto parsed = readReferences(*refs);
        if (!parsed) return parsed.problem();
        m.references = std::move(*parsed);
    }
    if (r.failed()) return r.problemValue();
    const auto infos = capChildren(root, "info");
    if (infos.size() > kMaxInfos)
        return problem("bad_value", "<alert> has more than " + std::to_string(kMaxInfos) + " <info> blocks");
    for (std::size_t i = 0; i < infos.size(); ++i) {
        auto info = readInfo(infos[i], i);
        if (!info) return info.problem();
        m.infos.push_back(std::move(*info));
    }
    int signatures = 0;
    for (xmlNode* c = root->children; c; c = c->next)
        if (isElement(c, kDsigNs, "Signature")) ++signatures;
    if (signatures > 1) return problem("bad_signature", "<alert> carries more than one <Signature>");
    m.signaturePresent = signatures == 1;
    return m;
}

const Info* chooseInfo(const Message& m) {
    auto lower = [](std::string s) {
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    for (const auto& i : m.infos)
        if (lower(i.language) == "zh-cn") return &i;
    for (const auto& i : m.infos)
        if (lower(i.language).rfind("zh", 0) == 0) return &i;
    return m.infos.empty() ? nullptr : &m.infos.front();
}

bool codeCovers(std::string_view alertCode, std::string_view locationCode) {
    const std::string a = trim(alertCode), l = trim(locationCode);
    if (a.empty() || l.empty()) return false;
    if (a == l) return true;
    if (!digitsOnly(a) || !digitsOnly(l)) return false;
    std::string prefix = a;
    while (prefix.size() > 2 && prefix.size() % 2 == 0 && prefix.compare(prefix.size() - 2, 2, "00") == 0)
        prefix.resize(prefix.size() - 2);
    return l.size() > prefix.size() && l.compare(0, prefix.size(), prefix) == 0;
}

std::vector<std::int64_t> matchPlaces(const std::vector<Area>& areas, const std::vector<Place>& places) {
    std::vector<std::int64_t> out;
    for (const auto& p : places) {
        bool hit = false;
        const std::string district = trim(p.district);
        for (const auto& a : areas) {
            if (!district.empty()) {
                const auto names = namesIn(a.areaDesc);
                hit = std::find(names.begin(), names.end(), district) != names.end();
            }
            for (const auto& g : a.geocodes) hit = hit || codeCovers(g.value, p.adminCode);
            if (hit) break;
        }
        if (hit) out.push_back(p.id);
    }
    return out;
}

std::string sloganText(const Info& info, std::size_t maxBytes) {
    std::string raw = info.headline.empty() ? info.event : info.headline;
    if (!info.description.empty() && info.description != raw) raw += (raw.empty() ? "" : "：") + info.description;
    std::string folded;
    bool space = false;
    for (char c : raw) {
        if (isSpace(c)) {
            space = !folded.empty();
            continue;
        }
        if (space) folded += ' ';
        space = false;
        folded += c;
    }
    if (folded.size() <= maxBytes) return folded;
    static constexpr std::string_view kEllipsis = "…";
    std::size_t cut = maxBytes > kEllipsis.size() ? maxBytes - kEllipsis.size() : 0;
    while (cut > 0 && (static_cast<unsigned char>(folded[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
    return folded.substr(0, cut) + std::string(kEllipsis);
}

Colours coloursFor(std::string_view severity) {
    if (severity == "Extreme") return {"#C62828", "#FFFFFF"};   // red (红色预警)
    if (severity == "Severe") return {"#EF6C00", "#FFFFFF"};    // orange (橙色)
    if (severity == "Moderate") return {"#FDD835", "#000000"};  // yellow (黄色)
    if (severity == "Minor") return {"#1565C0", "#FFFFFF"};     // blue (蓝色)
    return {"#424242", "#FFFFFF"};                              // Unknown: grey
}

Parsed<std::vector<FeedEntry>> parseFeed(std::string_view xmlBytes, std::size_t maxBytes) {
    auto doc = xml::parseHardened(xmlBytes, maxBytes, "feed");
    if (!doc) return doc.problem();
    xmlNode* root = xmlDocGetRootElement(doc->get());
    std::vector<xmlNode*> entries;
    bool atom = false;
    if (root && isElement(root, kAtomNs, "feed")) {
        atom = true;
        for (xmlNode* c = root->children; c; c = c->next)
            if (isElement(c, kAtomNs, "entry")) entries.push_back(c);
    } else if (root && root->ns == nullptr && localName(root) == "rss") {
        for (xmlNode* ch = root->children; ch; ch = ch->next)
            if (ch->type == XML_ELEMENT_NODE && ch->ns == nullptr && localName(ch) == "channel")
                for (xmlNode* c = ch->children; c; c = c->next)
                    if (c->type == XML_ELEMENT_NODE && c->ns == nullptr && localName(c) == "item") entries.push_back(c);
    } else {
        return problem("not_feed", "expected an Atom <feed> or an RSS 2.0 <rss> document");
    }
    if (entries.size() > kMaxFeedEntries)
        return problem("too_large", "the feed has more than " + std::to_string(kMaxFeedEntries) + " entries");
    std::vector<FeedEntry> out;
    for (auto* e : entries) {
        auto entry = readEntry(e, atom);
        if (!entry.capXml.empty() || !entry.link.empty()) out.push_back(std::move(entry));
    }
    return out;
}

}  // namespace microscape::controller::cap
