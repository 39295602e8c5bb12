// Strict reading of one JSON object's fields: each field is asked for with its
// type, and finish() refuses any field that nobody asked for. Shared by every
// parser of signed documents (manifests, schedules, proof-of-play records).
// A Fields object reads one object on one thread; it refers to that object,
// which must outlive it.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "microscape/core/json.hpp"
#include "microscape/core/result.hpp"

namespace microscape::json {

class Fields {
  public:
    // Errors (all of this class): BadManifest "<prefix><path>.<key>: <what>".
    // prefix names the document (e.g. "schedule: "); path locates the object.
    static Result<Fields> of(const Value& v, std::string path, std::string prefix = "") {
        if (!v.isObject())
            return makeError(Errc::BadManifest, prefix + (path.empty() ? "" : path + ": ") + "expected an object");
        return Fields(v.asObject(), std::move(path), std::move(prefix));
    }

    // The fields of an object already known to be one (e.g. a wire header);
    // errors read "<prefix><key>: <what>".
    static Fields over(const Object& obj, std::string prefix) { return Fields(obj, "", std::move(prefix)); }

    const std::string& path() const { return path_; }
    std::string pathOf(std::string_view key) const {
        return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
    }
    bool has(std::string_view key) const { return obj_->find(key) != obj_->end(); }
    Error error(std::string_view key, std::string_view what) const {
        return makeError(Errc::BadManifest, prefix_ + pathOf(key) + ": " + std::string(what));
    }

    Result<const Value*> get(std::string_view key, Value::Type type) {
        auto it = obj_->find(key);
        if (it == obj_->end()) return error(key, "missing");
        if (it->second.type() != type) return error(key, std::string("expected ") + typeName(type));
        used_.insert(it->first);
        return &it->second;
    }
    // A field that must be present and may be null: nullptr for null, else as get().
    Result<const Value*> getOrNull(std::string_view key, Value::Type type) {
        auto it = obj_->find(key);
        if (it != obj_->end() && it->second.isNull()) {
            used_.insert(it->first);
            return static_cast<const Value*>(nullptr);
        }
        return get(key, type);
    }
    Result<std::string> str(std::string_view key) {
        auto v = get(key, Value::Type::String);
        if (!v) return v.error();
        return (*v)->asString();
    }
    Result<std::int64_t> integer(std::string_view key) {
        auto v = get(key, Value::Type::Int);
        if (!v) return v.error();
        return (*v)->asInt();
    }
    // An integer in [lo, hi].
    Result<std::int64_t> integer(std::string_view key, std::int64_t lo, std::int64_t hi) {
        auto v = integer(key);
        if (!v) return v;
        if (*v < lo || *v > hi) return error(key, std::to_string(*v) + " is out of range");
        return v;
    }
    // A string of at most maxBytes (TooLarge beyond), empty only when allowed.
    Result<std::string> str(std::string_view key, std::size_t maxBytes, bool allowEmpty = false) {
        auto v = str(key);
        if (!v) return v;
        if (v->size() > maxBytes) return makeError(Errc::TooLarge, prefix_ + pathOf(key) + ": too long");
        if (v->empty() && !allowEmpty) return error(key, "must not be empty");
        return v;
    }
    // Optional fields: absent gives def; present, the same rules as above.
    Result<std::int64_t> integerOr(std::string_view key, std::int64_t lo, std::int64_t hi, std::int64_t def) {
        if (!has(key)) return def;
        return integer(key, lo, hi);
    }
    Result<std::string> strOr(std::string_view key, std::size_t maxBytes, std::string def = {}) {
        if (!has(key)) return def;
        return str(key, maxBytes, true);
    }
    Result<bool> booleanOr(std::string_view key, bool def) {
        if (!has(key)) return def;
        return boolean(key);
    }
    // Into a variable, for parsers that read many fields: MS_TRY(f.read("seq", r.seq)).
    Status read(std::string_view key, std::string& dest) {
        auto v = str(key);
        if (!v) return v.error();
        dest = std::move(*v);
        return {};
    }
    Status read(std::string_view key, std::int64_t& dest) {
        auto v = integer(key);
        if (!v) return v.error();
        dest = *v;
        return {};
    }
    Result<bool> boolean(std::string_view key) {
        auto v = get(key, Value::Type::Bool);
        if (!v) return v.error();
        return (*v)->asBool();
    }
    Result<const Array*> array(std::string_view key) {
        auto v = get(key, Value::Type::Array);
        if (!v) return v.error();
        return &(*v)->asArray();
    }
    Status finish() const {
        for (const auto& [key, value] : *obj_)
            if (!used_.count(key)) return error(key, "unknown field");
        return {};
    }

    static const char* typeName(Value::Type t) {
        switch (t) {
            case Value::Type::Null:
                return "null";
            case Value::Type::Bool:
                return "true or false";
            case Value::Type::Int:
                return "an integer";
            case Value::Type::String:
                return "a string";
            case Value::Type::Array:
                return "an array";
            case Value::Type::Object:
                return "an object";
        }
        return "a value";
    }

  private:
    Fields(const Object& obj, std::string path, std::string prefix)
        : obj_(&obj), path_(std::move(path)), prefix_(std::move(prefix)) {}

    const Object* obj_;
    std::string path_;
    std::string prefix_;
    std::set<std::string, std::less<>> used_;
};

}  // namespace microscape::json
