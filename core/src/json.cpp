#include "microscape/core/json.hpp"
#include "microscape/core/utf8.hpp"

#include <charconv>

namespace microscape::json {

const Value* Value::find(std::string_view key) const {
    if (!isObject()) return nullptr;
    const auto& o = asObject();
    auto it = o.find(key);
    return it == o.end() ? nullptr : &it->second;
}

bool isValidUtf8(std::string_view s) {
    return utf8::isValid(s);
}

namespace {

class Parser {
  public:
    Parser(std::string_view text, const ParseLimits& limits, bool checkCanonical)
        : s_(text), limits_(limits), checkCanonical_(checkCanonical) {}

    Result<Value> document() {
        skipWs();
        auto v = value(0);
        if (!v) return v;
        skipWs();
        if (pos_ != s_.size()) return fail("trailing characters after the document");
        // Syntax errors win over form: a document is NotCanonical only if it is
        // otherwise valid.
        if (nonCanonical_)
            return makeError(Errc::NotCanonical,
                             "JSON is valid but not in canonical form (" + std::string(nonCanonicalWhy_) + ")");
        return v;
    }

  private:
    Error fail(std::string what) const { return makeError(Errc::BadJson, what + " at byte " + std::to_string(pos_)); }

    // Records the first way in which the input differs from its canonical form
    // (docs/canonical-json.md), so that parseCanonical needs no second pass.
    void notCanonical(const char* why) {
        if (checkCanonical_ && !nonCanonical_) {
            nonCanonical_ = true;
            nonCanonicalWhy_ = why;
        }
    }

    void skipWs() {
        std::size_t start = pos_;
        while (pos_ < s_.size()) {
            char c = s_[pos_];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
            ++pos_;
        }
        if (pos_ != start) notCanonical("whitespace");
    }

    bool literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }

    Result<Value> value(std::size_t depth) {
        if (pos_ >= s_.size()) return fail("unexpected end of input");
        char c = s_[pos_];
        switch (c) {
            case '{':
                return object(depth + 1);
            case '[':
                return array(depth + 1);
            case '"': {
                auto str = string();
                if (!str) return str.error();
                return Value(std::move(str).value());
            }
            case 't':
                if (literal("true")) return Value(true);
                return fail("invalid literal");
            case 'f':
                if (literal("false")) return Value(false);
                return fail("invalid literal");
            case 'n':
                if (literal("null")) return Value(nullptr);
                return fail("invalid literal");
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return number();
                return fail(std::string("unexpected character '") + c + "'");
        }
    }

    Result<Value> number() {
        std::size_t start = pos_;
        if (s_[pos_] == '-') ++pos_;
        if (pos_ >= s_.size()) return fail("truncated number");
        if (s_[pos_] == '0') {
            ++pos_;
        } else if (s_[pos_] >= '1' && s_[pos_] <= '9') {
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
        } else {
            return fail("invalid number");
        }
        if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E'))
            return fail("only integer numbers are allowed");
        std::int64_t v = 0;
        auto [ptr, ec] = std::from_chars(s_.data() + start, s_.data() + pos_, v);
        if (ec != std::errc() || ptr != s_.data() + pos_ || v > kMaxSafeInteger || v < -kMaxSafeInteger)
            return fail("integer out of range (|n| must be at most 2^53-1)");
        if (v == 0 && s_[start] == '-') return fail("negative zero is not allowed");
        return Value(v);
    }

    static void appendUtf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xc0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xe0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else {
            out += static_cast<char>(0xf0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        }
    }

    Result<std::uint32_t> hex4() {
        if (pos_ + 4 > s_.size()) return fail("truncated \\u escape");
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            char c = s_[pos_++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= c - '0';
            else if (c >= 'a' && c <= 'f')
                v |= c - 'a' + 10;
            else if (c >= 'A' && c <= 'F')
                v |= c - 'A' + 10;
            else
                return fail("bad hex digit in \\u escape");
        }
        return v;
    }

    Result<std::string> string() {
        ++pos_;  // opening quote
        std::string out;
        std::size_t runStart = pos_;
        while (true) {
            if (pos_ >= s_.size()) return fail("unterminated string");
            unsigned char c = static_cast<unsigned char>(s_[pos_]);
            if (c == '"') {
                std::string_view run = s_.substr(runStart, pos_ - runStart);
                if (!isValidUtf8(run)) return fail("invalid UTF-8 in string");
                out.append(run);
                ++pos_;
                return out;
            }
            if (c < 0x20) return fail("control character in string");
            if (c != '\\') {
                ++pos_;
                continue;
            }
            std::string_view run = s_.substr(runStart, pos_ - runStart);
            if (!isValidUtf8(run)) return fail("invalid UTF-8 in string");
            out.append(run);
            ++pos_;
            if (pos_ >= s_.size()) return fail("unterminated escape");
            char e = s_[pos_++];
            switch (e) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    notCanonical("escaped '/'");
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    std::size_t hexAt = pos_;
                    auto hi = hex4();
                    if (!hi) return hi.error();
                    std::uint32_t cp = *hi;
                    // Canonical form escapes only control characters without a
                    // short escape, as \u00xx in lowercase.
                    bool shortForm = cp == '\b' || cp == '\f' || cp == '\n' || cp == '\r' || cp == '\t';
                    if (cp >= 0x20 || shortForm) notCanonical("unneeded \\u escape");
                    for (std::size_t k = hexAt; k < hexAt + 4; ++k)
                        if (s_[k] >= 'A' && s_[k] <= 'F') notCanonical("uppercase hex in \\u escape");
                    if (cp >= 0xdc00 && cp <= 0xdfff) return fail("lone low surrogate");
                    if (cp >= 0xd800 && cp <= 0xdbff) {
                        if (!literal("\\u")) return fail("lone high surrogate");
                        auto lo = hex4();
                        if (!lo) return lo.error();
                        if (*lo < 0xdc00 || *lo > 0xdfff) return fail("bad surrogate pair");
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (*lo - 0xdc00);
                    }
                    appendUtf8(out, cp);
                    break;
                }
                default:
                    return fail("invalid escape");
            }
            runStart = pos_;
        }
    }

    Result<Value> array(std::size_t depth) {
        if (depth > limits_.maxDepth) return fail("nesting too deep");
        ++pos_;
        Array arr;
        skipWs();
        if (pos_ < s_.size() && s_[pos_] == ']') {
            ++pos_;
            return Value(std::move(arr));
        }
        while (true) {
            skipWs();
            auto v = value(depth);
            if (!v) return v;
            arr.push_back(std::move(v).value());
            skipWs();
            if (pos_ >= s_.size()) return fail("unterminated array");
            if (s_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (s_[pos_] == ']') {
                ++pos_;
                return Value(std::move(arr));
            }
            return fail("expected ',' or ']'");
        }
    }

    Result<Value> object(std::size_t depth) {
        if (depth > limits_.maxDepth) return fail("nesting too deep");
        ++pos_;
        Object obj;
        skipWs();
        if (pos_ < s_.size() && s_[pos_] == '}') {
            ++pos_;
            return Value(std::move(obj));
        }
        while (true) {
            skipWs();
            if (pos_ >= s_.size() || s_[pos_] != '"') return fail("expected a string key");
            auto key = string();
            if (!key) return key.error();
            skipWs();
            if (pos_ >= s_.size() || s_[pos_] != ':') return fail("expected ':'");
            ++pos_;
            skipWs();
            auto v = value(depth);
            if (!v) return v;
            if (checkCanonical_ && !obj.empty() && !(obj.rbegin()->first < *key)) notCanonical("keys not sorted");
            if (!obj.emplace(std::move(key).value(), std::move(v).value()).second) return fail("duplicate object key");
            skipWs();
            if (pos_ >= s_.size()) return fail("unterminated object");
            if (s_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (s_[pos_] == '}') {
                ++pos_;
                return Value(std::move(obj));
            }
            return fail("expected ',' or '}'");
        }
    }

    std::string_view s_;
    const ParseLimits& limits_;
    bool checkCanonical_ = false;
    bool nonCanonical_ = false;
    const char* nonCanonicalWhy_ = "";
    std::size_t pos_ = 0;
};

void writeString(std::string& out, const std::string& s) {
    out += '"';
    std::size_t run = 0;  // start of the pending run of bytes written as they are
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s, run, i - run);
        run = i + 1;
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default: {
                static constexpr char kHex[] = "0123456789abcdef";
                out += "\\u00";
                out += kHex[c >> 4];
                out += kHex[c & 0xf];
            }
        }
    }
    out.append(s, run, s.size() - run);
    out += '"';
}

void writeValue(std::string& out, const Value& v, int indent, int level) {
    auto newline = [&](int lvl) {
        if (indent <= 0) return;
        out += '\n';
        out.append(static_cast<std::size_t>(indent * lvl), ' ');
    };
    switch (v.type()) {
        case Value::Type::Null:
            out += "null";
            break;
        case Value::Type::Bool:
            out += v.asBool() ? "true" : "false";
            break;
        case Value::Type::Int: {
            char buf[24];
            auto r = std::to_chars(buf, buf + sizeof buf, v.asInt());
            out.append(buf, r.ptr);
            break;
        }
        case Value::Type::String:
            writeString(out, v.asString());
            break;
        case Value::Type::Array: {
            const auto& a = v.asArray();
            out += '[';
            for (std::size_t i = 0; i < a.size(); ++i) {
                if (i) out += ',';
                newline(level + 1);
                writeValue(out, a[i], indent, level + 1);
            }
            if (!a.empty()) newline(level);
            out += ']';
            break;
        }
        case Value::Type::Object: {
            const auto& o = v.asObject();
            out += '{';
            bool first = true;
            for (const auto& [k, val] : o) {
                if (!first) out += ',';
                first = false;
                newline(level + 1);
                writeString(out, k);
                out += indent > 0 ? ": " : ":";
                writeValue(out, val, indent, level + 1);
            }
            if (!o.empty()) newline(level);
            out += '}';
            break;
        }
    }
}

}  // namespace

Result<Value> parse(std::string_view text, const ParseLimits& limits) {
    if (text.size() > limits.maxBytes)
        return makeError(Errc::TooLarge, "JSON document of " + std::to_string(text.size()) +
                                             " bytes exceeds the limit of " + std::to_string(limits.maxBytes));
    return Parser(text, limits, false).document();
}

std::string canonical(const Value& value) {
    std::string out;
    out.reserve(256);
    writeValue(out, value, 0, 0);
    return out;
}

std::string pretty(const Value& value, int indent) {
    std::string out;
    writeValue(out, value, indent, 0);
    return out;
}

Result<Value> parseCanonical(std::string_view text, const ParseLimits& limits) {
    if (text.size() > limits.maxBytes)
        return makeError(Errc::TooLarge, "JSON document of " + std::to_string(text.size()) +
                                             " bytes exceeds the limit of " + std::to_string(limits.maxBytes));
    return Parser(text, limits, true).document();
}

}  // namespace microscape::json
