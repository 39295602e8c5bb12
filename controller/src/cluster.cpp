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

std::string commandAnnouncement(const std::string& commandId, const std::string& playerId) {
    return "command " + commandId + " " + playerId;
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
    } else if (verb == "command") {
        const auto sp2 = rest.find(' ');
        if (sp2 == std::string_view::npos) return a;
        const std::string_view id = rest.substr(0, sp2), player = rest.substr(sp2 + 1);
        if (!manifest::isValidId(id) || !manifest::isValidId(player)) return a;
        a.kind = Announcement::Kind::Command;
        a.commandId = std::string(id);
        a.playerId = std::string(player);
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

sql::StoredCommand storedCommand(const CommandResult& r, bool claimed) {
    return sql::StoredCommand{r.id,       r.playerId, std::string(wire::commandActionName(r.action)),
                              r.sentAtMs, claimed,    r.ackedAtMs,
                              r.ok,       r.message,  r.payload};
}

std::optional<CommandResult> commandResultOf(const sql::StoredCommand& s) {
    for (auto a : {wire::CommandAction::Reload, wire::CommandAction::ClearCache, wire::CommandAction::Screenshot,
                   wire::CommandAction::ShowHead})
        if (wire::commandActionName(a) == s.action)
            return CommandResult{s.id, s.playerId, a, s.sentAtMs, s.ackedAtMs, s.ok, s.message, s.payload};
    return std::nullopt;
}

std::int64_t compileLockKey(const std::string& playerId) {
    const auto digest = crypto::sha256("compile:" + playerId);
    std::uint64_t k = 0;
    for (int i = 0; i < 8; ++i) k = k << 8 | static_cast<std::uint8_t>(digest[static_cast<std::size_t>(i)]);
    return static_cast<std::int64_t>(k);
}

}  // namespace microscape::controller
