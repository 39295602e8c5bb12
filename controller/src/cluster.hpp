// Several controller nodes on one PostgreSQL: what a node announces to the
// others when it changes something their hubs must act on (sql::announce,
// delivered at commit), and the lock that makes a screen's manifest compiled
// once. One line each; player ids are manifest ids (no spaces):
//   manifest <player> <version>   a new manifest version is stored
//   retire <player>               the screen was retired: end its session
//   command <id> <player>         a command (row in `commands`) for the node the
//                                 screen is connected to
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "microscape/controller/hub.hpp"
#include "store/commands.hpp"

namespace microscape::controller {

std::string manifestAnnouncement(const std::string& playerId, std::int64_t version);
std::string retireAnnouncement(const std::string& playerId);
std::string commandAnnouncement(const std::string& commandId, const std::string& playerId);

struct Announcement {
    enum class Kind { Manifest, Retire, Command, Unknown };
    Kind kind = Kind::Unknown;
    std::string playerId;
    std::string commandId;  // Command
    std::int64_t version = 0;
};
// Unknown for anything else (a newer node's announcement is ignored, not fatal).
Announcement parseAnnouncement(std::string_view text);

// A command as the store keeps it, and back (nullopt: an action this node does not know).
sql::StoredCommand storedCommand(const CommandResult& r, bool claimed);
std::optional<CommandResult> commandResultOf(const sql::StoredCommand& s);

// The advisory lock key of a screen's compilation (the first 8 bytes of a SHA-256).
std::int64_t compileLockKey(const std::string& playerId);

}  // namespace microscape::controller
