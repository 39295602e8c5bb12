// CAP 1.2 (OASIS Common Alerting Protocol) messages and the feeds that carry them:
// parsed from bytes into plain values, with every refusal a value naming an API
// error code. Pure (no clock, no files, no network): times are arguments.
// Thread-safety: every function may be called from any thread (libxml2 is set up
// once, by the first call, under std::call_once).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace microscape::controller::cap {

inline constexpr std::string_view kNamespace = "urn:oasis:names:tc:emergency:cap:1.2";

// Why a message (or feed) was refused: `code` is the API's error code
// (docs/controller-api.md "Alerts"), `message` says what and where.
struct Problem {
    std::string code;
    std::string message;
};

// A value or a Problem, in the shape of microscape::Result.
template <class T>
class [[nodiscard]] Parsed {
  public:
    Parsed(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Parsed(Problem p) : v_(std::in_place_index<1>, std::move(p)) {}
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() { return value(); }
    const Problem& problem() const { return std::get<1>(v_); }

  private:
    std::variant<T, Problem> v_;
};

struct Geocode {
    std::string valueName;
    std::string value;
};

struct Area {
    std::string areaDesc;
    std::vector<Geocode> geocodes;
};

struct Info {
    std::string language = "en-US";  // CAP's default when <language> is absent
    std::string event;
    std::string urgency, severity, certainty;
    std::string senderName, headline, description, instruction;
    std::optional<std::int64_t> effectiveMs, onsetMs, expiresMs;
    std::vector<Area> areas;
};

// One "sender,identifier,sent" triple of <references>.
struct Reference {
    std::string sender, identifier, sent;
    bool operator==(const Reference&) const = default;
};

struct Message {
    std::string identifier, sender, sent;  // sent exactly as written (references quote it)
    std::int64_t sentMs = 0;
    std::string status, msgType, scope;
    std::vector<Reference> references;
    std::vector<Info> infos;
    bool signaturePresent = false;  // an XML-DSig <Signature> child of <alert>
};

// Limits on what a message may hold (besides the caller's byte limit).
inline constexpr std::size_t kMaxInfos = 16;
inline constexpr std::size_t kMaxAreas = 64;     // per <info>
inline constexpr std::size_t kMaxGeocodes = 64;  // per <area>
inline constexpr std::size_t kMaxReferences = 64;
inline constexpr std::size_t kMaxTextBytes = 16 * 1024;  // any one element's text

// Parses one CAP 1.2 <alert> document. Refuses (Problem codes): too_large (over
// maxBytes), not_utf8 (bytes or declared encoding), doctype_refused (a DOCTYPE or
// ENTITY declaration anywhere: no DTDs, no entities), not_xml, not_cap (root is not
// <alert> in the CAP 1.2 namespace), missing_element, bad_value (a closed
// vocabulary, a time or an identifier that does not follow the standard).
Parsed<Message> parseMessage(std::string_view xml, std::size_t maxBytes);

// "2026-04-15T08:00:00+08:00" (or ...Z) -> UTC ms; nullopt when not CAP's dateTime.
std::optional<std::int64_t> parseTime(std::string_view s);

// The <info> shown: the first in zh-CN, else the first in another Chinese
// language tag (zh, zh-Hans...), else the first. Null when there is none.
const Info* chooseInfo(const Message& m);

// A place an alert's areas may name.
struct Place {
    std::int64_t id = 0;
    std::string district;   // matched against <areaDesc> (whole, or one of its names)
    std::string adminCode;  // matched against every <geocode> value
};

// Whether an alert's administrative code covers a location's: equal, or (codes of
// digits, GB/T 2260 style) the alert's with its trailing "00" pairs dropped is a
// prefix of the location's: 450200 (a city) covers 450202 (one of its districts),
// and 450202 covers 450202001000 (a street of it, in the 12-digit statistical codes).
bool codeCovers(std::string_view alertCode, std::string_view locationCode);

// The ids of the places any of the areas names, in the order of `places`.
std::vector<std::int64_t> matchPlaces(const std::vector<Area>& areas, const std::vector<Place>& places);

// What the screen shows for an alert: headline, then description, whitespace
// folded onto one line, cut (at a character) to at most maxBytes.
std::string sloganText(const Info& info, std::size_t maxBytes);

// The colours an alert is drawn in, by <severity> (docs/controller-api.md):
// the red, orange, yellow and blue of China's warning levels, grey for Unknown.
struct Colours {
    const char* background;
    const char* text;
};
Colours coloursFor(std::string_view severity);

// One entry of an Atom or RSS 2.0 feed: an embedded CAP message (the <alert>
// element re-serialised, or CAP XML carried as escaped text), or a link to one.
struct FeedEntry {
    std::string capXml;
    std::string link;
};
inline constexpr std::size_t kMaxFeedEntries = 200;

// Parses an Atom (<feed>) or RSS 2.0 (<rss><channel>) document under the same
// rules as parseMessage (size, UTF-8, no DTD). Problems: as parseMessage, and
// not_feed for another root element.
Parsed<std::vector<FeedEntry>> parseFeed(std::string_view xml, std::size_t maxBytes);

}  // namespace microscape::controller::cap
