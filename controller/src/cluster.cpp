#include "cluster.hpp"

#include <charconv>

#include "microscape/core/crypto.hpp"
#include "microscape/core/manifest.hpp"

namespace microscape::controller {

std::string manifestAnnouncement(const std::string& playerId, std::int64_t version) {
    return "manifest " + playerId + " " + std::to_string(version);
}

std::string retireAnnouncement(const std::string& playerId) {
    return "retire " + playerId;
}

Announcement parseAnnouncement(std::string_view text) {
    Announcement a;
    const auto sp = text.find(' ');
    if (sp == std::string_view::npos) return a;
    const std::string_view verb = text.substr(0, sp), rest = text.substr(sp + 1);
    if (verb == "retire") {
        if (!manifest::isValidId(rest)) return a;
        a.kind = Announcement::Kind::Retire;
        a.playerId = std::string(rest);
    } else if (verb == "manifest") {
        const auto sp2 = rest.find(' ');
        if (sp2 == std::string_view::npos) return a;
        const std::string_view id = rest.substr(0, sp2), v = rest.substr(sp2 + 1);
        std::int64_t version = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), version);
        if (ec != std::errc() || p != v.data() + v.size() || version < 1 || !manifest::isValidId(id)) return a;
        a.kind = Announcement::Kind::Manifest;
        a.playerId = std::string(id);
        a.version = version;
    }
    return a;
}

std::int64_t compileLockKey(const std::string& playerId) {
    const auto digest = crypto::sha256("compile:" + playerId);
    std::uint64_t k = 0;
    for (int i = 0; i < 8; ++i) k = k << 8 | static_cast<std::uint8_t>(digest[static_cast<std::size_t>(i)]);
    return static_cast<std::int64_t>(k);
}

}  // namespace microscape::controller
