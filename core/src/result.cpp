#include "microscape/core/result.hpp"

namespace microscape {

std::string_view errcName(Errc code) {
    switch (code) {
        case Errc::Ok:
            return "Ok";
        case Errc::Usage:
            return "Usage";
        case Errc::Io:
            return "IoError";
        case Errc::BadJson:
            return "BadJson";
        case Errc::NotCanonical:
            return "NotCanonical";
        case Errc::BadManifest:
            return "BadManifest";
        case Errc::UnsupportedFormat:
            return "UnsupportedFormat";
        case Errc::BadKey:
            return "BadKey";
        case Errc::UnknownSigner:
            return "UnknownSigner";
        case Errc::BadSignature:
            return "BadSignature";
        case Errc::Rollback:
            return "Rollback";
        case Errc::Expired:
            return "Expired";
        case Errc::HashMismatch:
            return "HashMismatch";
        case Errc::SizeMismatch:
            return "SizeMismatch";
        case Errc::MissingMedia:
            return "MissingMedia";
        case Errc::ExtraEntry:
            return "ExtraEntry";
        case Errc::DuplicateEntry:
            return "DuplicateEntry";
        case Errc::Truncated:
            return "Truncated";
        case Errc::BadTar:
            return "BadTar";
        case Errc::BadPath:
            return "BadPath";
        case Errc::BadEntryType:
            return "BadEntryType";
        case Errc::TooLarge:
            return "TooLarge";
        case Errc::EmptyBundle:
            return "EmptyBundle";
        case Errc::Exists:
            return "Exists";
        case Errc::NotFound:
            return "NotFound";
        case Errc::Internal:
            return "Internal";
        case Errc::BadMedia:
            return "BadMedia";
    }
    return "Unknown";
}

std::string Error::str() const {
    std::string s(errcName(code));
    s += ": ";
    s += message;
    return s;
}

}  // namespace microscape
