// Result<T>: a value or an Error (domain code + context), the way every expected
// failure travels in Microscape. Plain value type; thread-safety is that of T.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace microscape {

// Stable reason codes. Their names (errcName) are printed by tools and matched by
// scripts and tests: never rename one; add new codes at the end.
enum class Errc {
    Ok = 0,
    Usage,              // bad command line or API use
    Io,                 // a file or socket could not be read or written
    BadJson,            // not valid (strict) JSON
    NotCanonical,       // valid JSON but not in canonical form
    BadManifest,        // a field is missing, of the wrong type or out of range
    UnsupportedFormat,  // manifest format version not understood
    BadKey,             // a key file could not be parsed
    UnknownSigner,      // signed by a key that is not pinned
    BadSignature,       // the signature does not verify
    Rollback,           // version not above the active/minimum one
    Expired,            // expires-at is in the past
    HashMismatch,       // content does not hash to the name it is stored under
    SizeMismatch,       // content size differs from the manifest
    MissingMedia,       // the manifest names media that is not in the bundle
    ExtraEntry,         // the bundle holds an entry that the manifest does not name
    DuplicateEntry,     // the same entry name appears twice
    Truncated,          // the file ends in the middle of a header or an entry
    BadTar,             // a header is malformed (checksum, octal fields, magic)
    BadPath,            // absolute path, "..", or a name outside the allowed set
    BadEntryType,       // a link, device, directory or extension header
    TooLarge,           // exceeds a documented size limit
    EmptyBundle,        // no entries at all
    Exists,             // refusing to overwrite
    NotFound,           // a named thing does not exist
    Internal,           // a library call failed unexpectedly
    BadMedia,           // not a recognised image, video, audio or slogan
};

std::string_view errcName(Errc code);

struct Error {
    Errc code = Errc::Internal;
    std::string message;

    // "Code: message", the one-line form printed by tools.
    std::string str() const;
};

inline Error makeError(Errc code, std::string message) {
    return Error{code, std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & {
        assert(ok());
        return std::get<0>(v_);
    }
    const T& value() const& {
        assert(ok());
        return std::get<0>(v_);
    }
    T&& value() && {
        assert(ok());
        return std::get<0>(std::move(v_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const {
        assert(!ok());
        return std::get<1>(v_);
    }
    Errc code() const { return ok() ? Errc::Ok : error().code; }

  private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error error) : err_(std::move(error)), ok_(false) {}

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const {
        assert(!ok_);
        return err_;
    }
    Errc code() const { return ok_ ? Errc::Ok : err_.code; }

  private:
    Error err_;
    bool ok_ = true;
};

using Status = Result<void>;

}  // namespace microscape

// Propagates an error from an expression returning Result<...>.
#define MS_TRY(expr)                                   \
    do {                                               \
        auto ms_try_r_ = (expr);                       \
        if (!ms_try_r_.ok()) return ms_try_r_.error(); \
    } while (0)
