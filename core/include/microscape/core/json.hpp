// Strict JSON values, parsing and the canonical byte form used for signing.
// Pure functions over plain data; a Value is a plain value type (not synchronised).
//
// Strict means: RFC 8259 syntax, UTF-8 validated (no lone surrogates), duplicate
// object keys rejected, numbers must be integers in [-(2^53-1), 2^53-1] (no
// fractions or exponents), nesting depth and size limited. The canonical form is
// specified in docs/canonical-json.md.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "microscape/core/result.hpp"

namespace microscape::json {

class Value;
using Array = std::vector<Value>;
// std::map keeps keys sorted by bytes, which is the canonical order.
using Object = std::map<std::string, Value, std::less<>>;

constexpr std::int64_t kMaxSafeInteger = 9007199254740991;  // 2^53 - 1

class Value {
  public:
    enum class Type { Null, Bool, Int, String, Array, Object };

    Value() : v_(nullptr) {}
    Value(std::nullptr_t) : v_(nullptr) {}
    Value(bool b) : v_(b) {}
    Value(int i) : v_(static_cast<std::int64_t>(i)) {}
    Value(std::int64_t i) : v_(i) {}
    Value(std::uint32_t i) : v_(static_cast<std::int64_t>(i)) {}
    Value(std::uint64_t i) : v_(static_cast<std::int64_t>(i)) {}
    Value(const char* s) : v_(std::string(s)) {}
    Value(std::string s) : v_(std::move(s)) {}
    Value(std::string_view s) : v_(std::string(s)) {}
    Value(Array a) : v_(std::move(a)) {}
    Value(Object o) : v_(std::move(o)) {}

    Type type() const { return static_cast<Type>(v_.index()); }
    bool isNull() const { return type() == Type::Null; }
    bool isBool() const { return type() == Type::Bool; }
    bool isInt() const { return type() == Type::Int; }
    bool isString() const { return type() == Type::String; }
    bool isArray() const { return type() == Type::Array; }
    bool isObject() const { return type() == Type::Object; }

    // Accessors assert the type; check with isX() first.
    bool asBool() const { return std::get<bool>(v_); }
    std::int64_t asInt() const { return std::get<std::int64_t>(v_); }
    const std::string& asString() const { return std::get<std::string>(v_); }
    const Array& asArray() const { return std::get<Array>(v_); }
    Array& asArray() { return std::get<Array>(v_); }
    const Object& asObject() const { return std::get<Object>(v_); }
    Object& asObject() { return std::get<Object>(v_); }

    // Member lookup: nullptr if this is not an object or has no such key.
    const Value* find(std::string_view key) const;

    bool operator==(const Value& other) const { return v_ == other.v_; }

  private:
    std::variant<std::nullptr_t, bool, std::int64_t, std::string, Array, Object> v_;
};

struct ParseLimits {
    std::size_t maxBytes = 16u << 20;  // whole document
    std::size_t maxDepth = 64;         // nested arrays/objects
};

// Parses one strict JSON document (surrounding whitespace allowed).
// Errors: BadJson (syntax, bad UTF-8, duplicate key, non-integer number,
// depth exceeded), TooLarge (input longer than limits.maxBytes).
Result<Value> parse(std::string_view text, const ParseLimits& limits = {});

// The canonical bytes of a value (docs/canonical-json.md).
std::string canonical(const Value& value);

// Parses and requires that the input is byte-for-byte canonical. Errors: those of
// parse(), and NotCanonical.
Result<Value> parseCanonical(std::string_view text, const ParseLimits& limits = {});

// Human-readable, indented form (keys sorted, UTF-8 kept as is). Not for signing.
std::string pretty(const Value& value, int indent = 2);

// True if s is well-formed UTF-8 without surrogates or overlong forms.
bool isValidUtf8(std::string_view s);

}  // namespace microscape::json
