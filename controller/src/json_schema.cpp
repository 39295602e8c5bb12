#include "microscape/controller/json_schema.hpp"

#include <Poco/JSON/Array.h>

#include <cctype>
#include <set>
#include <stdexcept>

namespace microscape::controller {

namespace {

const std::set<std::string>& knownKeywords() {
    static const std::set<std::string> k = {
        "$ref",        "type",     "nullable", "properties",  "required",  "additionalProperties",
        "items",       "minItems", "maxItems", "uniqueItems", "minLength", "maxLength",
        "x-maxBytes",  "minimum",  "maximum",  "enum",        "format",    "oneOf",
        "description", "title",    "example",  "readOnly",    "writeOnly", "default",
        "deprecated"};
    return k;
}

constexpr const char* kRefPrefix = "#/components/schemas/";

bool isObject(const Poco::Dynamic::Var& v) {
    return v.type() == typeid(Poco::JSON::Object::Ptr);
}
bool isArray(const Poco::Dynamic::Var& v) {
    return v.type() == typeid(Poco::JSON::Array::Ptr);
}
bool isBool(const Poco::Dynamic::Var& v) {
    return v.type() == typeid(bool);
}
bool isInteger(const Poco::Dynamic::Var& v) {
    return !isBool(v) && v.isInteger();
}
bool isNumber(const Poco::Dynamic::Var& v) {
    return !isBool(v) && v.isNumeric();
}

std::size_t codePoints(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

bool digits(const std::string& s, std::size_t from, std::size_t count) {
    if (from + count > s.size()) return false;
    for (std::size_t i = from; i < from + count; ++i)
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    return true;
}

bool validDate(const std::string& s) {
    if (s.size() < 10 || !digits(s, 0, 4) || s[4] != '-' || !digits(s, 5, 2) || s[7] != '-' || !digits(s, 8, 2))
        return false;
    const int y = std::stoi(s.substr(0, 4)), m = std::stoi(s.substr(5, 2)), d = std::stoi(s.substr(8, 2));
    static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > kDays[m - 1]) return false;
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

// RFC 3339 date-time: 2026-04-15T08:00:00Z, with optional fraction, Z or +hh:mm.
bool validDateTime(const std::string& s) {
    if (s.size() < 20 || !validDate(s.substr(0, 10)) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2) ||
        s[13] != ':' || !digits(s, 14, 2) || s[16] != ':' || !digits(s, 17, 2))
        return false;
    if (std::stoi(s.substr(11, 2)) > 23 || std::stoi(s.substr(14, 2)) > 59 || std::stoi(s.substr(17, 2)) > 60)
        return false;
    std::size_t i = 19;
    if (s[i] == '.') {
        ++i;
        const std::size_t start = i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        if (i == start) return false;
    }
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) return i + 1 == s.size();
    return i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && digits(s, i + 1, 2) && s[i + 3] == ':' &&
           digits(s, i + 4, 2);
}

std::string typeOf(const Poco::Dynamic::Var& v) {
    if (v.isEmpty()) return "null";
    if (isObject(v)) return "an object";
    if (isArray(v)) return "an array";
    if (isBool(v)) return "a boolean";
    if (v.isString()) return "a string";
    if (isInteger(v)) return "an integer";
    if (isNumber(v)) return "a number";
    return "a value of another kind";
}

bool hasType(const Poco::Dynamic::Var& v, const std::string& type) {
    if (type == "object") return isObject(v);
    if (type == "array") return isArray(v);
    if (type == "string") return v.isString();
    if (type == "integer") return isInteger(v);
    if (type == "number") return isNumber(v);
    if (type == "boolean") return isBool(v);
    throw std::logic_error("unknown schema type '" + type + "'");
}

std::optional<std::string> problem(const std::string& where, const std::string& what) {
    return where + ": " + what;
}

}  // namespace

SchemaSet::SchemaSet(Poco::JSON::Object::Ptr components) : components_(std::move(components)) {
    if (!components_) components_ = new Poco::JSON::Object;
}

Poco::JSON::Object::Ptr SchemaSet::resolve(const Poco::JSON::Object::Ptr& schema) const {
    Poco::JSON::Object::Ptr s = schema;
    for (int hops = 0; s->has("$ref"); ++hops) {
        const std::string ref = s->getValue<std::string>("$ref");
        if (hops > 16 || ref.rfind(kRefPrefix, 0) != 0) throw std::logic_error("unsupported $ref '" + ref + "'");
        const std::string name = ref.substr(std::string(kRefPrefix).size());
        if (!components_->has(name) || !components_->isObject(name))
            throw std::logic_error("$ref to a missing schema '" + name + "'");
        s = components_->getObject(name);
    }
    return s;
}

std::optional<std::string> SchemaSet::check(const Poco::Dynamic::Var& value, const Poco::JSON::Object::Ptr& schema,
                                            const std::string& where) const {
    const auto s = resolve(schema);
    if (value.isEmpty()) {
        if (s->optValue<bool>("nullable", false) || (!s->has("type") && !s->has("oneOf"))) return std::nullopt;
        return problem(where, "must not be null");
    }
    if (s->has("oneOf")) {
        const auto alts = s->getArray("oneOf");
        int matches = 0;
        std::string first;
        for (std::size_t i = 0; i < alts->size(); ++i) {
            auto p = check(value, alts->getObject(static_cast<unsigned>(i)), where);
            if (!p)
                ++matches;
            else if (first.empty())
                first = *p;
        }
        if (matches != 1)
            return problem(where, matches == 0 ? "matches none of its alternatives (" + first + ")"
                                               : "matches more than one of its alternatives");
    }
    if (s->has("type")) {
        const std::string type = s->getValue<std::string>("type");
        if (!hasType(value, type))
            return problem(
                where, "must be " +
                           std::string(type == "integer" || type == "array" || type == "object" ? "an " : "a ") + type +
                           ", not " + typeOf(value));
    }
    if (s->has("enum")) {
        const auto e = s->getArray("enum");
        bool found = false;
        for (std::size_t i = 0; i < e->size() && !found; ++i) {
            const auto want = e->get(static_cast<unsigned>(i));
            if (want.isString() && value.isString())
                found = want.extract<std::string>() == value.extract<std::string>();
            else if (isInteger(want) && isInteger(value))
                found = want.convert<Poco::Int64>() == value.convert<Poco::Int64>();
        }
        if (!found) {
            std::string list;
            for (std::size_t i = 0; i < e->size(); ++i)
                list += (i == 0               ? ""
                         : i + 1 == e->size() ? " or "
                                              : ", ") +
                        e->get(static_cast<unsigned>(i)).toString();
            return problem(where,
                           "must be " + (e->size() == 1 ? list : "one of " + list) + ", not " + value.toString());
        }
    }
    if (value.isString()) {
        const std::string str = value.extract<std::string>();
        if (s->has("minLength") && codePoints(str) < s->getValue<std::size_t>("minLength"))
            return problem(where, "must be at least " + s->get("minLength").toString() + " characters long");
        if (s->has("maxLength") && codePoints(str) > s->getValue<std::size_t>("maxLength"))
            return problem(where, "must be at most " + s->get("maxLength").toString() + " characters long");
        if (s->has("x-maxBytes") && str.size() > s->getValue<std::size_t>("x-maxBytes"))
            return problem(where, "must be at most " + s->get("x-maxBytes").toString() + " bytes of UTF-8");
        const std::string format = s->optValue<std::string>("format", "");
        if (format == "date-time" && !validDateTime(str))
            return problem(where, "must be an RFC 3339 date-time such as 2026-04-15T08:00:00+08:00");
        if (format == "date" && (str.size() != 10 || !validDate(str)))
            return problem(where, "must be a date YYYY-MM-DD");
    }
    if (isNumber(value)) {
        const double d = value.convert<double>();
        if (s->has("minimum") && d < s->getValue<double>("minimum"))
            return problem(where, "must be at least " + s->get("minimum").toString());
        if (s->has("maximum") && d > s->getValue<double>("maximum"))
            return problem(where, "must be at most " + s->get("maximum").toString());
    }
    if (isArray(value)) {
        const auto a = value.extract<Poco::JSON::Array::Ptr>();
        if (s->has("minItems") && a->size() < s->getValue<std::size_t>("minItems"))
            return problem(where, "must hold at least " + s->get("minItems").toString() + " items");
        if (s->has("maxItems") && a->size() > s->getValue<std::size_t>("maxItems"))
            return problem(where, "must hold at most " + s->get("maxItems").toString() + " items");
        if (s->has("items"))
            for (std::size_t i = 0; i < a->size(); ++i)
                if (auto p = check(a->get(static_cast<unsigned>(i)), s->getObject("items"),
                                   where + "[" + std::to_string(i) + "]"))
                    return p;
    }
    if (isObject(value)) {
        const auto o = value.extract<Poco::JSON::Object::Ptr>();
        const auto props = s->has("properties") ? s->getObject("properties") : Poco::JSON::Object::Ptr();
        if (s->has("required")) {
            const auto req = s->getArray("required");
            for (std::size_t i = 0; i < req->size(); ++i) {
                const std::string name = req->getElement<std::string>(static_cast<unsigned>(i));
                if (!o->has(name)) return problem(where + "." + name, "is required");
            }
        }
        for (const auto& [name, v] : *o) {
            const std::string at = where + "." + name;
            if (props && props->has(name)) {
                if (auto p = check(v, props->getObject(name), at)) return p;
            } else if (s->has("additionalProperties")) {
                if (s->isObject("additionalProperties")) {
                    if (auto p = check(v, s->getObject("additionalProperties"), at)) return p;
                } else if (!s->getValue<bool>("additionalProperties")) {
                    return problem(at, "is not a known field");
                }
            }
        }
    }
    return std::nullopt;
}

void SchemaSet::lint(const Poco::JSON::Object::Ptr& schema, const std::string& where) const {
    for (const auto& [k, v] : *schema)
        if (!knownKeywords().count(k)) throw std::logic_error(where + ": keyword '" + k + "' is not supported");
    if (schema->has("$ref")) {
        if (schema->size() != 1) throw std::logic_error(where + ": $ref must stand alone");
        // Components are linted where they are defined (lintAll); here only that it resolves.
        resolve(schema);
        return;
    }
    if (schema->has("type")) hasType(Poco::Dynamic::Var(), schema->getValue<std::string>("type"));
    if (schema->has("properties"))
        for (const auto& [name, sub] : *schema->getObject("properties"))
            lint(sub.extract<Poco::JSON::Object::Ptr>(), where + "." + name);
    if (schema->has("items")) lint(schema->getObject("items"), where + "[]");
    if (schema->isObject("additionalProperties")) lint(schema->getObject("additionalProperties"), where + ".*");
    if (schema->has("oneOf")) {
        const auto alts = schema->getArray("oneOf");
        for (std::size_t i = 0; i < alts->size(); ++i)
            lint(alts->getObject(static_cast<unsigned>(i)), where + ".oneOf[" + std::to_string(i) + "]");
    }
    if (schema->has("required") && schema->has("properties")) {
        const auto req = schema->getArray("required");
        for (std::size_t i = 0; i < req->size(); ++i) {
            const std::string name = req->getElement<std::string>(static_cast<unsigned>(i));
            if (!schema->getObject("properties")->has(name))
                throw std::logic_error(where + ": required field '" + name + "' has no schema");
        }
    }
}

void SchemaSet::lintAll() const {
    for (const auto& [name, s] : *components_) lint(s.extract<Poco::JSON::Object::Ptr>(), name);
}

}  // namespace microscape::controller
