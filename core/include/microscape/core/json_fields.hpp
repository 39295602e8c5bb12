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
            case Value::Type::Null: return "null";
            case Value::Type::Bool: return "true or false";
            case Value::Type::Int: return "an integer";
            case Value::Type::String: return "a string";
            case Value::Type::Array: return "an array";
            case Value::Type::Object: return "an object";
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
