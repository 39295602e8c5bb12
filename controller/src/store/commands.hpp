// Commands to screens across controller nodes (PostgreSQL): the `commands`
// table holds each command made while several nodes share the store, claimed by
// the node whose hub the screen is connected to, with the screen's answer once
// it came (docs/store.md "Between nodes"). Functions over a borrowed
// connection; thread-safety is the connection's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "store/sql.hpp"

namespace microscape::controller::sql {

struct StoredCommand {
    std::string id;
    std::string playerId;
    std::string action;  // wire::commandActionName
    std::int64_t sentAtMs = 0;
    bool claimed = false;  // a node's hub took it to send
    std::optional<std::int64_t> ackedAtMs;
    bool ok = false;
    std::string message;
    std::string payload;  // e.g. a screenshot
};

// A new command (claimed: sent by the inserting node's own hub).
void insertCommand(Conn& c, const StoredCommand& r);
// Claims a command for delivery; false when another node did, or it ended.
bool claimCommand(Conn& c, const std::string& id);
// The answer (or the failure) of a command: ackedAtMs, ok, message, payload.
void storeCommandResult(Conn& c, const StoredCommand& r);
// Ends a command no node claimed with `message`; false when one claimed it meanwhile.
bool failUnclaimedCommand(Conn& c, const std::string& id, std::int64_t atMs, const std::string& message);
std::optional<StoredCommand> commandById(Conn& c, const std::string& id);

}  // namespace microscape::controller::sql
