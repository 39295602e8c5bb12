#include "store/commands.hpp"

namespace microscape::controller::sql {

void insertCommand(Conn& c, const StoredCommand& r) {
    c.exec("INSERT INTO commands(id, player_id, action, sent_at, claimed) VALUES (?, ?, ?, ?, ?)",
           {r.id, r.playerId, r.action, r.sentAtMs, std::int64_t(r.claimed)});
}

bool claimCommand(Conn& c, const std::string& id) {
    return c.one("UPDATE commands SET claimed = 1 WHERE id = ? AND claimed = 0 AND acked_at IS NULL RETURNING id", {id})
        .has_value();
}

void storeCommandResult(Conn& c, const StoredCommand& r) {
    c.exec("UPDATE commands SET acked_at = ?, ok = ?, message = ?, payload = ? WHERE id = ?",
           {r.ackedAtMs ? Value(*r.ackedAtMs) : Value(nullptr), std::int64_t(r.ok), r.message,
            r.payload.empty() ? Value(nullptr) : Value(Blob{r.payload}), r.id});
}

bool failUnclaimedCommand(Conn& c, const std::string& id, std::int64_t atMs, const std::string& message) {
    return c
        .one("UPDATE commands SET acked_at = ?, ok = 0, message = ? WHERE id = ? AND claimed = 0 RETURNING id",
             {atMs, message, id})
        .has_value();
}

std::optional<StoredCommand> commandById(Conn& c, const std::string& id) {
    auto row = c.one(
        "SELECT id, player_id, action, sent_at, claimed, acked_at, ok, message, payload FROM commands WHERE id = ?",
        {id});
    if (!row) return std::nullopt;
    StoredCommand s;
    s.id = row->str(0);
    s.playerId = row->str(1);
    s.action = row->str(2);
    s.sentAtMs = row->i64(3);
    s.claimed = row->i64(4) != 0;
    s.ackedAtMs = row->optI64(5);
    s.ok = row->i64(6) != 0;
    s.message = row->str(7);
    s.payload = row->str(8);
    return s;
}

}  // namespace microscape::controller::sql
