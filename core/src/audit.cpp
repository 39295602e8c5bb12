#include "microscape/core/audit.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <set>

#include "microscape/core/json_fields.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/time.hpp"

namespace microscape::audit {

namespace {

Error bad(std::string msg) {
    return makeError(Errc::BadManifest, std::move(msg));
}

// One JSON file of the export, parsed within the size limit; errors name the file.
Result<json::Value> parseFile(std::string_view bytes, const std::string& file) {
    json::ParseLimits limits;
    limits.maxBytes = kMaxJsonBytes;
    auto doc = json::parseCanonical(bytes, limits);
    if (!doc) return makeError(doc.code(), file + ": " + doc.error().message);
    return doc;
}

// A UTC instant written as text ("2026-03-01T08:00:00Z").
Result<std::int64_t> utcTime(json::Fields& f, std::string_view key) {
    auto s = f.str(key);
    if (!s) return s.error();
    auto t = timeutil::parseUtcStrict(*s);
    if (!t) return f.error(key, t.error().message);
    return *t;
}

json::Value manifestJson(const ExportManifest& m) {
    json::Array files;
    for (const auto& f : m.files)
        files.push_back(json::Object{{"name", f.name}, {"sha256", f.sha256}, {"size", f.sizeBytes}});
    json::Object o{{"format", m.format},
                   {"kind", "microscape-proof-of-play-export"},
                   {"export_id", m.exportId},
                   {"created_at", timeutil::formatUtc(m.createdAtMs)},
                   {"from", timeutil::formatUtc(m.fromMs)},
                   {"to", timeutil::formatUtc(m.toMs)},
                   {"signer", m.signer},
                   {"files", std::move(files)}};
    if (m.format >= 2) {  // the audit log came with format 2
        const AuditHead head = m.auditHead.value_or(AuditHead{});
        o["audit_head"] = json::Object{{"seq", head.seq}, {"hash", head.hash}};
    }
    return o;
}

json::Value keysJson(const std::vector<PlayerEntry>& players) {
    json::Array list;
    for (const auto& p : players)
        list.push_back(json::Object{{"player_id", p.playerId},
                                    {"public_key", p.publicKeyB64},
                                    {"key_id", p.keyId},
                                    {"enrolled_at", timeutil::formatUtc(p.enrolledAtMs)},
                                    {"enrolled_by", p.enrolledBy},
                                    {"location_id", p.locationId},
                                    {"location_name", p.locationName},
                                    {"venue_type", p.venueType},
                                    {"district", p.district},
                                    {"time_zone", p.timeZone}});
    return json::Object{{"players", std::move(list)}};
}

json::Value mediaJson(const std::vector<MediaName>& media) {
    json::Array list;
    for (const auto& m : media) {
        json::Object o{{"sha256", m.sha256}, {"name", m.name}, {"kind", m.kind}};
        if (!m.derivedFromSha256.empty())
            o["derived_from"] = json::Object{{"sha256", m.derivedFromSha256}, {"transform", m.transform}};
        list.push_back(std::move(o));
    }
    return json::Object{{"media", std::move(list)}};
}

std::vector<std::string_view> lines(std::string_view body) {
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (pos < body.size()) {
        std::size_t nl = body.find('\n', pos);
        if (nl == std::string_view::npos) {
            out.push_back(body.substr(pos));
            break;
        }
        out.push_back(body.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return out;
}

Result<AuditHead> readAuditHead(json::Fields& doc) {
    auto v = doc.get("audit_head", json::Value::Type::Object);
    if (!v) return v.error();
    auto f = json::Fields::of(**v, "audit_head", "export.json: ");
    if (!f) return f.error();
    AuditHead head;
    MS_TRY(f->read("seq", head.seq));
    MS_TRY(f->read("hash", head.hash));
    MS_TRY(f->finish());
    if (head.seq < 0 || !crypto::isSha256Hex(head.hash))
        return bad("export.json: audit_head must be {\"hash\", \"seq\"}");
    return head;
}

Result<FileEntry> parseFileEntry(const json::Value& v, std::size_t index) {
    auto f = json::Fields::of(v, "files[" + std::to_string(index) + "]", "export.json: ");
    if (!f) return f.error();
    FileEntry e;
    std::int64_t size = 0;
    MS_TRY(f->read("name", e.name));
    MS_TRY(f->read("sha256", e.sha256));
    MS_TRY(f->read("size", size));
    if (!crypto::isSha256Hex(e.sha256) || size < 0 || !tar::isSafeName(e.name))
        return bad("export.json: bad file entry '" + e.name + "'");
    e.sizeBytes = static_cast<std::uint64_t>(size);
    return e;
}

Result<ExportManifest> parseManifest(std::string_view bytes) {
    auto doc = parseFile(bytes, "export.json");
    if (!doc) return doc.error();
    auto f = json::Fields::of(*doc, "", "export.json: ");
    if (!f) return f.error();
    auto fmt = f->integer("format");
    if (!fmt) return fmt.error();
    if (*fmt < 1 || *fmt > kFormatVersion)
        return makeError(Errc::UnsupportedFormat, "export format " + std::to_string(*fmt) + " is not supported");
    ExportManifest m;
    m.format = static_cast<int>(*fmt);
    if (m.format >= 2) {
        auto head = readAuditHead(*f);
        if (!head) return head.error();
        m.auditHead = *head;
    }
    std::string kind;
    MS_TRY(f->read("kind", kind));
    if (kind != "microscape-proof-of-play-export") return bad("export.json: not a proof-of-play export");
    MS_TRY(f->read("export_id", m.exportId));
    for (auto [key, out] :
         {std::pair{"created_at", &m.createdAtMs}, std::pair{"from", &m.fromMs}, std::pair{"to", &m.toMs}}) {
        auto t = utcTime(*f, key);
        if (!t) return t.error();
        *out = *t;
    }
    MS_TRY(f->read("signer", m.signer));
    if (!crypto::isSha256Hex(m.signer)) return bad("export.json: signer is not a key id");
    auto files = f->array("files");
    if (!files) return files.error();
    MS_TRY(f->finish());
    for (std::size_t i = 0; i < (*files)->size(); ++i) {
        auto e = parseFileEntry((**files)[i], i);
        if (!e) return e.error();
        m.files.push_back(std::move(*e));
    }
    return m;
}

// The array `key` of the object that a list file of the export (keys.json,
// media.json) holds, at most maxItems long.
Result<const json::Array*> listIn(const json::Value& doc, const std::string& file, std::string_view key,
                                  std::size_t maxItems) {
    auto f = json::Fields::of(doc, "", file + ": ");
    if (!f) return f.error();
    auto list = f->array(key);
    if (!list) return list.error();
    if ((*list)->size() > maxItems) return makeError(Errc::TooLarge, file + ": too many entries");
    return *list;
}

Result<PlayerEntry> parsePlayerEntry(const json::Value& v, std::size_t index) {
    auto f = json::Fields::of(v, "players[" + std::to_string(index) + "]", "keys.json: ");
    if (!f) return f.error();
    PlayerEntry e;
    for (auto [key, field] :
         {std::pair{"player_id", &e.playerId}, std::pair{"public_key", &e.publicKeyB64}, std::pair{"key_id", &e.keyId},
          std::pair{"enrolled_by", &e.enrolledBy}, std::pair{"location_id", &e.locationId},
          std::pair{"location_name", &e.locationName}, std::pair{"venue_type", &e.venueType},
          std::pair{"district", &e.district}, std::pair{"time_zone", &e.timeZone}})
        MS_TRY(f->read(key, *field));
    auto at = utcTime(*f, "enrolled_at");
    if (!at) return at.error();
    e.enrolledAtMs = *at;
    if (!manifest::isValidId(e.playerId)) return bad("keys.json: bad player id '" + e.playerId + "'");
    return e;
}

Result<std::vector<PlayerEntry>> parseKeys(std::string_view bytes) {
    auto doc = parseFile(bytes, "keys.json");
    if (!doc) return doc.error();
    auto list = listIn(*doc, "keys.json", "players", kMaxPlayers);
    if (!list) return list.error();
    std::vector<PlayerEntry> out;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
        auto e = parsePlayerEntry((**list)[i], i);
        if (!e) return e.error();
        if (!seen.insert(e->playerId).second)
            return makeError(Errc::DuplicateEntry, "keys.json: player " + e->playerId + " listed twice");
        out.push_back(std::move(*e));
    }
    return out;
}

Result<std::vector<MediaName>> parseMedia(std::string_view bytes) {
    auto doc = parseFile(bytes, "media.json");
    if (!doc) return doc.error();
    auto list = listIn(*doc, "media.json", "media", std::numeric_limits<std::size_t>::max());
    if (!list) return list.error();
    std::vector<MediaName> out;
    for (std::size_t i = 0; i < (*list)->size(); ++i) {
        auto f = json::Fields::of((**list)[i], "media[" + std::to_string(i) + "]", "media.json: ");
        if (!f) return f.error();
        MediaName n;
        MS_TRY(f->read("sha256", n.sha256));
        MS_TRY(f->read("name", n.name));
        MS_TRY(f->read("kind", n.kind));
        if (const json::Value* d = (**list)[i].find("derived_from"); d && d->isObject()) {
            const json::Value* sha = d->find("sha256");
            const json::Value* tr = d->find("transform");
            if (sha && sha->isString()) n.derivedFromSha256 = sha->asString();
            if (tr && tr->isString()) n.transform = tr->asString();
        }
        out.push_back(std::move(n));
    }
    return out;
}

// "<code>: <file> line <n>: <why>", the read problem of a line its parser refused.
std::string lineProblem(std::string_view code, const std::string& file, std::size_t lineNo, const Error& why) {
    return std::string(code) + ": " + file + " line " + std::to_string(lineNo) + ": " + why.str();
}
std::string truncatedProblem(const std::string& file) {
    return "truncated_file: " + file + " does not end with a newline";
}

// An audit log row; one longer than a row may be is refused by its length alone.
Result<AuditRow> parseBoundedAuditLine(std::string_view line) {
    if (line.size() > kMaxAuditLineBytes)
        return bad("an audit log row is longer than " + std::to_string(kMaxAuditLineBytes) + " bytes");
    return parseAuditLine(line);
}

// Parses each line of a whole file with parse: what it refuses becomes a read
// problem (lineProblem), the rest goes to add; a file that does not end with a
// newline is a problem too.
template <class Parse, class Add>
void parseLines(std::string_view data, const std::string& file, std::string_view code, Parse parse, Add add,
                std::vector<std::string>& problems) {
    std::size_t lineNo = 0;
    for (auto line : lines(data)) {
        ++lineNo;
        auto v = parse(line);
        if (!v)
            problems.push_back(lineProblem(code, file, lineNo, v.error()));
        else
            add(std::move(*v));
    }
    if (!data.empty() && data.back() != '\n') problems.push_back(truncatedProblem(file));
}

enum class PlayerFileKind { Records, Checkpoints, Manifests };
struct PlayerFileName {
    std::string id;  // empty: not a player file
    PlayerFileKind kind = PlayerFileKind::Records;
};

// "players/<id>/records.jsonl" (checkpoints.jsonl, manifests.jsonl) → id and
// which file; an empty id if the name is not of that shape.
PlayerFileName playerFile(const std::string& name) {
    static const std::string prefix = "players/";
    if (name.compare(0, prefix.size(), prefix) != 0) return {};
    auto slash = name.find('/', prefix.size());
    if (slash == std::string::npos) return {};
    std::string id = name.substr(prefix.size(), slash - prefix.size());
    std::string file = name.substr(slash + 1);
    if (!manifest::isValidId(id)) return {};
    if (file == "records.jsonl") return {id, PlayerFileKind::Records};
    if (file == "checkpoints.jsonl") return {id, PlayerFileKind::Checkpoints};
    if (file == "manifests.jsonl") return {id, PlayerFileKind::Manifests};
    return {};
}

using Rows = std::map<std::tuple<std::string, std::string, std::string>, CountRow>;

// What the counting gathers over all players: the rows, the name of each
// location (from the counted play first in (player id, seq) order), and how
// many counted plays a manifest of the screen's located.
// The recalls the export's audit log records (docs/audit-export.md, "Recalls"):
// fed the audit rows before the players, then each player's records through
// PlayerPlaces, it finds the plays of recalled media that started after the
// screen confirmed the manifest without it. A screen's confirmation is the
// earlier of the controller's (its audit log) and the screen's own (the start of
// its first record naming that manifest), so that the controller cannot hide a
// play by dating a confirmation late.
class RecallBook {
  public:
    struct Screen {
        std::string manifestSha256;                                // the first manifest without the media; "" if none
        std::optional<std::int64_t> claimedMs;                     // the controller's confirmation
        std::optional<std::int64_t> ownMs;                         // the screen's own (its records)
        std::vector<std::pair<std::int64_t, std::int64_t>> plays;  // seq, start of its plays of the media
        bool seen = false;                                         // the player's evidence was read
    };

    void add(const AuditRow& row) {
        if (row.entity != "recall" || !row.entityId || !row.afterJson) return;
        auto v = json::parse(*row.afterJson);
        if (!v || !v->isObject()) {
            problems_.push_back("audit row " + std::to_string(row.seq) + ": the recall's record is not JSON");
            return;
        }
        const std::string& id = *row.entityId;
        if (row.action == "create") {
            Claim c;
            c.out.id = id;
            c.out.mediaSha256 = text(*v, "mediaSha256");
            c.out.mediaName = text(*v, "mediaName");
            c.out.reason = text(*v, "reason");
            auto at = instant(*v, "recalledAt");
            if (c.out.mediaSha256.size() != 64 || !at) {
                problems_.push_back("audit row " + std::to_string(row.seq) + ": recall " + id +
                                    " lacks its media or its time");
                return;
            }
            c.out.recalledAtMs = *at;
            if (const auto* list = v->find("screens"); list && list->isArray())
                for (const auto& x : list->asArray()) {
                    const std::string player = text(x, "playerId");
                    if (player.empty()) continue;
                    auto& s = c.screens[player];
                    s.manifestSha256 = text(x, "manifestSha256");
                    s.claimedMs = instant(x, "confirmedAt");
                }
            claims_[id] = std::move(c);
        } else if (auto it = claims_.find(id); it != claims_.end()) {
            if (row.action == "confirm") {
                auto s = it->second.screens.find(text(*v, "playerId"));
                auto at = instant(*v, "confirmedAt");
                if (s != it->second.screens.end() && at)
                    s->second.claimedMs = std::min(s->second.claimedMs.value_or(*at), *at);
            } else if (row.action == "complete") {
                it->second.out.completedAtMs = instant(*v, "completedAt");
            }
        }
    }

    bool empty() const { return claims_.empty(); }

    // The recalls naming a player, with its part in each.
    std::vector<std::pair<const std::string*, Screen*>> screensOf(const std::string& playerId) {
        std::vector<std::pair<const std::string*, Screen*>> out;
        for (auto& [id, c] : claims_)
            if (auto it = c.screens.find(playerId); it != c.screens.end())
                out.emplace_back(&c.out.mediaSha256, &it->second);
        return out;
    }

    std::vector<std::string> problems() const { return problems_; }

    std::vector<RecallOutcome> outcomes() const {
        std::vector<RecallOutcome> out;
        for (const auto& [id, c] : claims_) {
            RecallOutcome o = c.out;
            o.screens = c.screens.size();
            for (const auto& [player, s] : c.screens) {
                auto confirmed = confirmation(s);
                if (confirmed) ++o.confirmed;
                for (const auto& [seq, start] : s.plays) {
                    o.lastPlayUtcMs = std::max(o.lastPlayUtcMs.value_or(start), start);
                    if (confirmed && start > *confirmed)
                        o.playsAfterConfirmation.push_back({player, seq, start, *confirmed});
                }
            }
            out.push_back(std::move(o));
        }
        std::sort(out.begin(), out.end(), [](const RecallOutcome& a, const RecallOutcome& b) {
            return std::pair(a.recalledAtMs, a.id) < std::pair(b.recalledAtMs, b.id);
        });
        return out;
    }

    static std::optional<std::int64_t> confirmation(const Screen& s) {
        if (s.claimedMs && s.ownMs) return std::min(*s.claimedMs, *s.ownMs);
        return s.claimedMs ? s.claimedMs : s.ownMs;
    }

  private:
    struct Claim {
        RecallOutcome out;
        std::map<std::string, Screen> screens;
    };
    static std::string text(const json::Value& v, std::string_view key) {
        const auto* x = v.find(key);
        return x && x->isString() ? x->asString() : std::string();
    }
    static std::optional<std::int64_t> instant(const json::Value& v, std::string_view key) {
        auto t = timeutil::parseIso8601(text(v, key));
        if (!t) return std::nullopt;
        return *t;
    }

    std::map<std::string, Claim> claims_;
    std::vector<std::string> problems_;
};

struct Tally {
    RecallBook recalls;
    Rows rows;
    std::map<std::string, std::tuple<std::string, std::int64_t, std::string>> names;  // id -> player, seq, name
    std::int64_t counted = 0;
    std::int64_t bound = 0;

    void add(const std::string& locationId, const std::string& locationName, const tz::Zone& zone,
             const pop::Record& r) {
        std::int64_t local = r.startUtcMs + static_cast<std::int64_t>(tz::utcOffsetAt(zone, r.startUtcMs)) * 1000;
        std::int64_t day = local >= 0 ? local / 86400000 : (local - 86399999) / 86400000;
        std::string date = timeutil::formatDate(timeutil::civilFromDays(day));
        auto& row = rows[{locationId, date, r.mediaSha256}];
        row.locationId = locationId;
        row.localDate = date;
        row.mediaSha256 = r.mediaSha256;
        switch (r.outcome) {
            case pop::Outcome::Completed:
                ++row.completed;
                row.onScreenMs += r.measuredMs;
                break;
            case pop::Outcome::Degraded:
                ++row.degraded;
                row.onScreenMs += r.measuredMs;
                break;
            case pop::Outcome::Interrupted:
                ++row.interrupted;
                row.onScreenMs += r.measuredMs;
                break;
            case pop::Outcome::Failed:
                ++row.failed;
                break;
            case pop::Outcome::None:
                break;
        }
        auto key = std::tuple(r.playerId, r.seq, locationName);
        auto [it, fresh] = names.emplace(locationId, key);
        if (!fresh && std::tie(r.playerId, r.seq) < std::tie(std::get<0>(it->second), std::get<1>(it->second)))
            it->second = key;
    }
};

std::string shortHash(const std::string& h) {
    return h.substr(0, 16) + "...";
}

// Where one player's plays were, from the manifests its records name (format 4
// exports): fed the player's manifests.jsonl lines and then its records, it
// counts each play at its manifest's location (else at keys.json's) and finds
// manifest_player, manifest_missing, location_mismatch and unknown_zone. The
// in-memory and the streaming verification both use it, so that they report
// the same.
class PlayerPlaces {
  public:
    PlayerPlaces(const PlayerEntry& player, const std::map<std::string, tz::Zone>& zones, std::int64_t fromMs,
                 std::int64_t toMs, RecallBook& recalls)
        : player_(player), zones_(zones), fromMs_(fromMs), toMs_(toMs), recalls_(recalls.screensOf(player.playerId)) {
        for (auto& [media, s] : recalls_) s->seen = true;
    }

    // One manifest of manifests.jsonl (its exact bytes, parsed).
    void addManifest(std::string_view bytes, const manifest::Manifest& m) {
        if (m.target != player_.playerId) {
            if (foreign_.empty()) foreign_ = "one for " + m.target;
            return;
        }
        const std::string sha = crypto::sha256Hex(bytes);
        for (const auto& [media, s] : recalls_)
            if (s->manifestSha256 == sha)
                for (const auto& item : m.media)
                    if (item.sha256 == *media) stillListed_.insert(sha);
        manifests_.emplace(sha, m.location);
    }

    // The zone names the player's manifests give (to load before the records).
    std::set<std::string> zoneNames() const {
        std::set<std::string> out{player_.timeZone};
        for (const auto& [sha, loc] : manifests_)
            if (loc) out.insert(loc->timeZone);
        return out;
    }

    void addRecord(const pop::Record& r, Tally& tally) {
        if (!r.manifestSha256.empty() && r.seq >= lastNamedSeq_) {
            lastNamedSeq_ = r.seq;
            lastNamed_ = r.manifestSha256;
        }
        for (auto& [media, s] : recalls_) {
            if (!r.manifestSha256.empty() && r.manifestSha256 == s->manifestSha256)
                s->ownMs = std::min(s->ownMs.value_or(r.startUtcMs), r.startUtcMs);
            if (r.kind == pop::Kind::Play && r.mediaSha256 == *media) s->plays.emplace_back(r.seq, r.startUtcMs);
        }
        if (r.kind != pop::Kind::Play || r.startUtcMs < fromMs_ || r.startUtcMs >= toMs_) return;
        const std::string* locationId = &player_.locationId;
        const std::string* locationName = &player_.locationName;
        const std::string* zoneName = &player_.timeZone;
        bool bound = false;
        if (!r.manifestSha256.empty()) {
            auto it = manifests_.find(r.manifestSha256);
            if (it == manifests_.end()) {
                if (!missing_++) firstMissing_ = r.seq;
            } else if (it->second) {
                locationId = &it->second->id;
                locationName = &it->second->name;
                zoneName = &it->second->timeZone;
                bound = true;
            }
        }
        auto zone = zones_.find(*zoneName);
        if (zone == zones_.end()) {
            if (*zoneName != player_.timeZone) unknownZones_.insert(*zoneName);
            return;
        }
        ++tally.counted;
        if (bound) ++tally.bound;
        tally.add(*locationId, *locationName, zone->second, r);
    }

    void finish(std::vector<Failure>& out) const {
        const std::string& id = player_.playerId;
        if (!foreign_.empty())
            out.push_back(
                {id, "manifest_player", "manifests.jsonl holds a manifest of another screen (" + foreign_ + ")"});
        if (missing_)
            out.push_back({id, "manifest_missing",
                           std::to_string(missing_) + " counted play(s) name a manifest that is not in the export " +
                               "(first: seq " + std::to_string(firstMissing_) + ")"});
        if (!lastNamed_.empty()) {
            auto it = manifests_.find(lastNamed_);
            if (it == manifests_.end())
                out.push_back({id, "manifest_missing",
                               "the manifest its last record naming one (seq " + std::to_string(lastNamedSeq_) +
                                   ") names, " + shortHash(lastNamed_) + ", is not in the export"});
            else if (it->second && *it->second != locationOf(player_))
                out.push_back({id, "location_mismatch",
                               "keys.json places the screen at " + describe(locationOf(player_)) +
                                   "; the manifest its record seq " + std::to_string(lastNamedSeq_) + " names, at " +
                                   describe(*it->second)});
        }
        for (const auto& [media, s] : recalls_) {
            if (s->manifestSha256.empty()) continue;
            if (stillListed_.count(s->manifestSha256))
                out.push_back({id, "recall_manifest",
                               "a recall names manifest " + shortHash(s->manifestSha256) +
                                   " as the screen's first without media " + shortHash(*media) +
                                   ", but that manifest lists it"});
            else if (!manifests_.count(s->manifestSha256))
                out.push_back({id, "recall_manifest",
                               "the manifest a recall names for the screen, " + shortHash(s->manifestSha256) +
                                   ", is not in the export"});
        }
        if (!zones_.count(player_.timeZone))
            out.push_back({id, "unknown_zone", "no time zone data for '" + player_.timeZone + "'"});
        for (const auto& z : unknownZones_)
            out.push_back({id, "unknown_zone", "no time zone data for '" + z + "' (a manifest's zone)"});
    }

  private:
    static std::string describe(const manifest::Location& l) {
        return "location " + l.id + " '" + l.name + "' (" + l.venueType + ", " + l.district + ", " + l.timeZone + ")";
    }

    const PlayerEntry& player_;
    const std::map<std::string, tz::Zone>& zones_;
    std::int64_t fromMs_ = 0, toMs_ = 0;
    std::map<std::string, std::optional<manifest::Location>> manifests_;  // by SHA-256 of its bytes
    std::string foreign_;                                                 // the first manifest of another screen
    std::int64_t missing_ = 0, firstMissing_ = 0;
    std::string lastNamed_;  // the manifest named by the record with the highest seq naming one
    std::int64_t lastNamedSeq_ = 0;
    std::set<std::string> unknownZones_;
    std::vector<std::pair<const std::string*, RecallBook::Screen*>> recalls_;  // recalled media, the screen's part
    std::set<std::string> stillListed_;  // recall manifests that list their recalled media
};

bool startsBeforeEnrollment(const pop::Record& r, const PlayerEntry& p) {
    return r.kind == pop::Kind::Play && r.startUtcMs < p.enrolledAtMs - 86400000;
}
std::string beforeEnrollmentMessage(const pop::Record& r) {
    return "seq " + std::to_string(r.seq) + " starts more than a day (86,400,000 ms) before the player was enrolled";
}

// The heads stated by player p checked against its chain in the export:
// hashAt(seq) is the hash of its record seq, lastSeq the chain's last seq.
void checkHeads(const PlayerEntry& p, const crypto::PublicKey& key, const VerifyOptions& options,
                std::int64_t exportCreatedMs, std::int64_t lastSeq,
                const std::function<std::optional<std::string>(std::int64_t)>& hashAt, std::vector<Failure>& out) {
    for (const auto& h : options.heads) {
        if (h.playerId != p.playerId) continue;
        const std::string what = "the head the screen stated at " + timeutil::formatUtc(h.createdUtcMs) + " (seq " +
                                 std::to_string(h.seq) + ")";
        if (auto st = pop::verifySignature(h, key); !st) {
            out.push_back(
                {p.playerId, "head_signature", what + " is not signed by the player's key: " + st.error().message});
            continue;
        }
        if (h.seq == 0) continue;
        auto got = hashAt(h.seq);
        // created_at has whole seconds: a head is after the export from the next second on.
        if (!got && h.createdUtcMs >= exportCreatedMs + 1000)
            out.push_back({p.playerId, "head_after_export",
                           what + " is not in the export, which was made before it (" +
                               timeutil::formatUtc(exportCreatedMs) +
                               "): collect the heads first, then make the export"});
        else if (!got)
            out.push_back({p.playerId, "head_not_reached",
                           what + " is not in the export, whose chain ends at seq " + std::to_string(lastSeq) +
                               ": records were left out of its end"});
        else if (*got != h.hash)
            out.push_back({p.playerId, "head_mismatch",
                           what + " names hash " + h.hash.substr(0, 16) + "..., the export's record hashes to " +
                               got->substr(0, 16) + "...: the chain was replaced"});
    }
}

Failure chainFailure(const std::string& playerId, const pop::Finding& f) {
    return {playerId, std::string(pop::problemName(f.problem)),
            (f.seq ? "seq " + std::to_string(f.seq) + ": " : "") + f.message};
}

// What verify() reports, with each enrolled player's evidence handled by
// `evidence` (called for players whose exported key is usable, in keys.json
// order): shared by the in-memory and the streaming path so that both report
// the same failures in the same order.
using EvidenceStep = std::function<void(const PlayerEntry&, const crypto::PublicKey&, AuditResult&, Tally&)>;

// The audit log's check, as both paths report it.
struct AuditLogOutcome {
    bool checked = false;
    std::int64_t rows = 0;
    std::vector<Failure> failures;
};

AuditResult assemble(const ExportManifest& manifest, std::string_view manifestBytes, std::string_view signature,
                     const std::vector<std::string>& readProblems, const std::vector<PlayerEntry>& players,
                     const std::set<std::string>& evidenceIds, const std::set<std::string>& incompleteIds,
                     const VerifyOptions& options, Tally tally, const AuditLogOutcome& auditLog,
                     const EvidenceStep& evidence) {
    AuditResult out;
    out.auditChecked = auditLog.checked;
    out.auditRows = auditLog.rows;
    auto fail = [&](std::string player, std::string code, std::string msg) {
        out.failures.push_back({std::move(player), std::move(code), std::move(msg)});
    };
    if (options.controllerKey) {
        out.signatureChecked = true;
        if (options.controllerKey->id() != manifest.signer)
            fail("", "export_signer",
                 "export.json is signed by key " + manifest.signer.substr(0, 16) +
                     ", not by the given controller key " + options.controllerKey->id().substr(0, 16));
        else if (!options.controllerKey->verify(manifestBytes, signature))
            fail("", "export_signature", "export.sig does not verify under the controller key");
    }
    for (const auto& p : readProblems) {
        auto colon = p.find(": ");
        fail("", p.substr(0, colon), p.substr(colon + 2));
    }
    if (manifest.toMs <= manifest.fromMs) fail("", "bad_period", "the export's period is empty");
    out.failures.insert(out.failures.end(), auditLog.failures.begin(), auditLog.failures.end());

    std::set<std::string> listedIds;
    for (const auto& p : players) listedIds.insert(p.playerId);
    for (const auto& id : evidenceIds)
        if (!listedIds.count(id)) fail(id, "unknown_player", "evidence for a player that keys.json does not list");

    // The roster: pinned keys name the screens the auditor expects, all of them.
    const bool roster = !options.pinnedPlayerKeyIds.empty();
    for (const auto& p : players) {
        const bool pinned = options.pinnedPlayerKeyIds.count(p.playerId) > 0;
        (pinned ? out.pinnedPlayers : out.unpinnedPlayers).push_back(p.playerId);
        if (roster && !pinned && !options.allowUnpinned)
            fail(p.playerId, "unpinned_player",
                 "the export holds a player whose key was not pinned (a screen the auditor did not "
                 "read a key from); pin it with --player-key, or accept it with --allow-unpinned");
        if (incompleteIds.count(p.playerId))
            fail(p.playerId, "missing_evidence", "only one of records.jsonl and checkpoints.jsonl is in the export");
        else if (!evidenceIds.count(p.playerId) && (manifest.format >= 3 || pinned))
            fail(p.playerId, "missing_evidence",
                 std::string("keys.json lists the player, but its records and checkpoints are not "
                             "in the export") +
                     (manifest.format >= 3 ? "" : " (a pinned player must be present)"));
    }
    for (const auto& [id, keyId] : options.pinnedPlayerKeyIds)
        if (!listedIds.count(id))
            fail(id, "pinned_player_missing",
                 "a pinned player is not in the export's keys.json (its plays were left out)");
    for (const auto& h : options.heads)
        if (!listedIds.count(h.playerId))
            fail(h.playerId, "head_unknown_player", "a head was given for a player the export does not list");

    for (const auto& p : players) {
        ++out.players;
        auto raw = crypto::base64Decode(p.publicKeyB64);
        auto key = raw ? crypto::PublicKey::fromRaw(*raw) : Result<crypto::PublicKey>(raw.error());
        if (!key) {
            fail(p.playerId, "bad_key", "the exported public key is not an Ed25519 key");
            continue;
        }
        if (key->id() != p.keyId) fail(p.playerId, "key_id", "key_id does not match the public key");
        if (auto pin = options.pinnedPlayerKeyIds.find(p.playerId);
            pin != options.pinnedPlayerKeyIds.end() && pin->second != key->id())
            fail(p.playerId, "key_not_pinned",
                 "the exported key differs from the independently obtained key " + pin->second.substr(0, 16));
        if (evidenceIds.count(p.playerId))
            evidence(p, *key, out, tally);
        else
            checkHeads(
                p, *key, options, manifest.createdAtMs, 0, [](std::int64_t) { return std::optional<std::string>(); },
                out.failures);
    }
    for (auto& [k, row] : tally.rows) out.counts.push_back(std::move(row));
    for (auto& [id, choice] : tally.names) out.locationNames[id] = std::move(std::get<2>(choice));
    out.countedPlays = tally.counted;
    out.boundPlays = tally.bound;
    for (const auto& p : tally.recalls.problems()) fail("", "bad_recall", p);
    out.recalls = tally.recalls.outcomes();
    return out;
}

// Feeds the lines of the current tar entry to onLine as lines() would split the
// whole entry, hashing the bytes on the way; a line longer than a record may be
// is cut to kMaxRecordBytes + 1 bytes (its parser refuses it by length alone).
// Returns whether the entry ends in a newline (or is empty). Errors: Truncated, Io.
Result<bool> streamLines(tar::Reader& reader, crypto::Sha256& sha,
                         const std::function<void(std::string_view line, std::size_t lineNo)>& onLine,
                         std::size_t kCap = pop::kMaxRecordBytes + 1) {
    std::vector<char> buf(1u << 20);
    std::string carry;
    bool carried = false;  // a line has begun (possibly empty so far)
    std::size_t lineNo = 0;
    char last = '\n';
    while (true) {
        auto n = reader.read(buf.data(), buf.size());
        if (!n) return n.error();
        if (*n == 0) break;
        sha.update(buf.data(), *n);
        last = buf[*n - 1];
        std::string_view chunk(buf.data(), *n);
        std::size_t pos = 0;
        while (pos < chunk.size()) {
            std::size_t nl = chunk.find('\n', pos);
            std::string_view part = chunk.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
            if (carry.size() < kCap) carry.append(part.substr(0, kCap - carry.size()));
            carried = true;
            if (nl == std::string_view::npos) break;
            onLine(carry, ++lineNo);
            carry.clear();
            carried = false;
            pos = nl + 1;
        }
    }
    if (carried) onLine(carry, ++lineNo);
    return last == '\n';
}

// One player's evidence as the stream saw it.
struct StreamedPlayer {
    std::size_t records = 0;
    std::size_t checkpoints = 0;
    std::vector<Failure> failures;  // chain findings, before_enrolment, unknown_zone
};

// The single pass over an export, as named steps over the tar entries in the
// order the controller writes them: header files, audit log, then each
// player's records and checkpoints. A step answers InMemory when the archive
// is laid out otherwise; the caller then verifies it in memory, which reports
// the same failures. Zones loaded on the way are added to options.
class ExportStream {
  public:
    ExportStream(tar::ByteSource& source, VerifyOptions& options, const ZoneLoader& loadZone)
        : reader_(source), options_(options), loadZone_(loadZone) {}

    // std::nullopt when the archive must be verified in memory.
    Result<std::optional<AuditReport>> run() {
        for (auto step : {&ExportStream::readHeader, &ExportStream::readAuditLog}) {
            auto st = (this->*step)();
            if (!st) return st.error();
            if (*st == Step::InMemory) return std::optional<AuditReport>();
        }
        loadZones();
        while (true) {
            auto st = readPlayer();
            if (!st) return st.error();
            if (*st == Step::InMemory) return std::optional<AuditReport>();
            if (*st == Step::Done) break;
        }
        return finish();
    }

  private:
    enum class Step { Next, Done, InMemory };
    using LineFn = std::function<void(std::string_view line, std::size_t lineNo)>;

    // The next entry if it is `name`, read whole (at most limit bytes).
    Result<std::optional<std::string>> small(std::string_view name, std::uint64_t limit) {
        auto next = reader_.next();
        if (!next) return next.error();
        if (!*next || (*next)->name != name) return std::optional<std::string>();
        auto data = tar::readEntry(reader_, **next, limit);
        if (!data) return data.error();
        return std::optional<std::string>(std::move(*data));
    }

    // The next entry's header if it is named `name`, within the size limit.
    Result<std::optional<tar::Header>> entry(const std::string& name) {
        auto next = reader_.next();
        if (!next) return next.error();
        if (!*next || (*next)->name != name) return std::optional<tar::Header>();
        MS_TRY(withinLimit(**next));
        return std::optional<tar::Header>(**next);
    }
    static Status withinLimit(const tar::Header& h) {
        if (h.sizeBytes > kMaxPlayerFileBytes)  // as readEntry words it
            return makeError(Errc::TooLarge, "entry " + h.name + " is " + std::to_string(h.sizeBytes) +
                                                 " bytes; the limit is " + std::to_string(kMaxPlayerFileBytes));
        return {};
    }

    // Streams the lines of entry h to onLine, noting its size and hash and a
    // missing final newline.
    Status streamEntry(const tar::Header& h, const LineFn& onLine, std::size_t cap = pop::kMaxRecordBytes + 1) {
        crypto::Sha256 sha;
        auto ended = streamLines(reader_, sha, onLine, cap);
        if (!ended) return ended.error();
        if (!*ended) lineProblems_[h.name].push_back(truncatedProblem(h.name));
        files_[h.name] = {h.sizeBytes, crypto::toHex(sha.finish())};
        return {};
    }

    // export.json, its signature, keys.json and media.json.
    Result<Step> readHeader() {
        auto mBytes = small(kExportName, kMaxJsonBytes);
        if (!mBytes) return mBytes.error();
        if (!*mBytes) return Step::InMemory;
        auto m = parseManifest(**mBytes);
        if (!m) return Step::InMemory;
        manifestBytes_ = std::move(**mBytes);
        rep_.manifest = std::move(*m);
        auto sig = small(kExportSigName, 4096);
        if (!sig) return sig.error();
        if (!*sig) return Step::InMemory;
        signature_ = std::move(**sig);
        auto keys = small(kKeysName, kMaxJsonBytes);
        if (!keys) return keys.error();
        if (!*keys) return Step::InMemory;
        auto players = parseKeys(**keys);
        if (!players) return Step::InMemory;
        rep_.players = std::move(*players);
        files_[std::string(kKeysName)] = {(*keys)->size(), crypto::sha256Hex(**keys)};
        auto media = small(kMediaName, kMaxJsonBytes);
        if (!media) return media.error();
        if (!*media) return Step::InMemory;
        auto names = parseMedia(**media);
        if (!names) return Step::InMemory;
        rep_.media = std::move(*names);
        files_[std::string(kMediaName)] = {(*media)->size(), crypto::sha256Hex(**media)};
        return Step::Next;
    }

    // The audit log (format 2 on), checked one row at a time as it streams past.
    Result<Step> readAuditLog() {
        if (rep_.manifest.format < 2) return Step::Next;
        auto h = entry(std::string(kAuditLogName));
        if (!h) return h.error();
        if (!*h) return Step::InMemory;
        AuditChainCheck check(options_.pinnedAuditHead);
        const std::string& name = (*h)->name;
        MS_TRY(streamEntry(
            **h,
            [&](std::string_view line, std::size_t lineNo) {
                auto row = parseBoundedAuditLine(line);
                if (!row)
                    lineProblems_[name].push_back(lineProblem("bad_audit_row", name, lineNo, row.error()));
                else {
                    check.add(*row);
                    tally_.recalls.add(*row);
                }
            },
            kMaxAuditLineBytes + 1));
        auditLog_.checked = true;
        auditLog_.rows = check.rows();
        auditLog_.failures = check.finish(*rep_.manifest.auditHead);
        return Step::Next;
    }

    void loadZones() {
        for (const auto& p : rep_.players)
            if (!options_.zones.count(p.timeZone) && loadZone_)
                if (auto z = loadZone_(p.timeZone)) options_.zones.emplace(p.timeZone, std::move(*z));
        for (const auto& p : rep_.players) byId_[p.playerId] = &p;
    }

    // One player's manifests.jsonl (format 4), records.jsonl and checkpoints.jsonl,
    // in id order; Done after the last.
    Result<Step> readPlayer() {
        auto first = reader_.next();
        if (!first) return first.error();
        if (!*first) return Step::Done;
        const PlayerFileName pf = playerFile((*first)->name);
        if (pf.id.empty() || pf.kind == PlayerFileKind::Checkpoints || (!lastId_.empty() && pf.id <= lastId_))
            return Step::InMemory;
        const std::string id = pf.id;
        MS_TRY(withinLimit(**first));
        evidenceIds_.insert(id);
        StreamedPlayer sp;
        const PlayerEntry* player = nullptr;
        std::optional<pop::ChainStream> chain;
        std::optional<crypto::PublicKey> key;
        std::optional<PlayerPlaces> places;
        if (auto it = byId_.find(id); it != byId_.end()) {
            player = it->second;
            auto raw = crypto::base64Decode(player->publicKeyB64);
            auto k = raw ? crypto::PublicKey::fromRaw(*raw) : Result<crypto::PublicKey>(raw.error());
            if (k) {
                key.emplace(*k);
                chain.emplace(id, std::move(*k));
                places.emplace(*player, options_.zones, rep_.manifest.fromMs, rep_.manifest.toMs, tally_.recalls);
            }
        }
        tar::Header recHeader = **first;
        if (pf.kind == PlayerFileKind::Manifests) {
            const std::string name = recHeader.name;
            MS_TRY(streamEntry(
                recHeader,
                [&](std::string_view line, std::size_t lineNo) {
                    auto m = manifest::parse(line);
                    if (!m)
                        lineProblems_[name].push_back(lineProblem("bad_manifest", name, lineNo, m.error()));
                    else if (places)
                        places->addManifest(line, *m);
                },
                manifest::kMaxManifestBytes + 1));
            auto next = entry(recordsPath(id));
            if (!next) return next.error();
            if (!*next) return Step::InMemory;
            recHeader = **next;
        }
        if (places)
            for (const auto& z : places->zoneNames())
                if (!options_.zones.count(z) && loadZone_)
                    if (auto zone = loadZone_(z)) options_.zones.emplace(z, std::move(*zone));
        bool reordered = false;
        std::optional<std::string> beforeEnrollment;
        const std::string recName = recHeader.name;
        MS_TRY(streamEntry(recHeader, [&](std::string_view line, std::size_t lineNo) {
            auto r = pop::parseRecord(line);
            if (!r) {
                lineProblems_[recName].push_back(lineProblem("bad_record", recName, lineNo, r.error()));
                return;
            }
            if (!chain || reordered) return;
            ++sp.records;
            if (!chain->addRecord(*r)) reordered = true;
            if (!beforeEnrollment && startsBeforeEnrollment(*r, *player))
                beforeEnrollment = beforeEnrollmentMessage(*r);
            places->addRecord(*r, tally_);
        }));
        if (reordered) return Step::InMemory;

        auto cpHeader = entry(checkpointsPath(id));
        if (!cpHeader) return cpHeader.error();
        if (!*cpHeader) return Step::InMemory;
        const std::string cpName = (*cpHeader)->name;
        MS_TRY(streamEntry(**cpHeader, [&](std::string_view line, std::size_t lineNo) {
            auto c = pop::parseCheckpoint(line);
            if (!c) {
                lineProblems_[cpName].push_back(lineProblem("bad_checkpoint", cpName, lineNo, c.error()));
                return;
            }
            if (!chain) return;
            ++sp.checkpoints;
            chain->addCheckpoint(*c);
        }));

        if (chain) {
            const auto report = chain->finish();
            for (const auto& f : report.findings) sp.failures.push_back(chainFailure(id, f));
            if (beforeEnrollment) sp.failures.push_back({id, "before_enrolment", *beforeEnrollment});
            checkHeads(
                *player, *key, options_, rep_.manifest.createdAtMs, report.lastSeq,
                [&](std::int64_t seq) { return chain->hashAt(seq); }, sp.failures);
            places->finish(sp.failures);
        }
        done_.emplace(id, std::move(sp));
        lastId_ = id;
        return Step::Next;
    }

    // readExport's read problems, in its order.
    std::vector<std::string> readProblems() {
        std::vector<std::string> out;
        std::set<std::string> listed;
        for (const auto& f : rep_.manifest.files) {
            listed.insert(f.name);
            auto it = files_.find(f.name);
            if (it == files_.end()) {
                out.push_back("missing_file: " + f.name + " is listed in export.json but absent");
                continue;
            }
            if (it->second.first != f.sizeBytes || it->second.second != f.sha256)
                out.push_back("file_hash: " + f.name + " does not match its hash in export.json");
        }
        for (const auto& [name, info] : files_)
            if (!listed.count(name)) out.push_back("unlisted_file: " + name + " is not listed in export.json");
        for (auto& [name, list] : lineProblems_)
            for (auto& p : list) out.push_back(std::move(p));
        return out;
    }

    std::optional<AuditReport> finish() {
        rep_.result = assemble(rep_.manifest, manifestBytes_, signature_, readProblems(), rep_.players, evidenceIds_,
                               {}, options_, std::move(tally_), auditLog_,
                               [&](const PlayerEntry& p, const crypto::PublicKey&, AuditResult& out, Tally&) {
                                   const auto& sp = done_.at(p.playerId);
                                   out.records += sp.records;
                                   out.checkpoints += sp.checkpoints;
                                   out.failures.insert(out.failures.end(), sp.failures.begin(), sp.failures.end());
                               });
        rep_.streamed = true;
        return std::move(rep_);
    }

    tar::Reader reader_;
    VerifyOptions& options_;
    const ZoneLoader& loadZone_;
    AuditReport rep_;
    std::string manifestBytes_, signature_;
    std::map<std::string, std::pair<std::uint64_t, std::string>> files_;  // name -> size, sha256 (not export.json/.sig)
    std::map<std::string, std::vector<std::string>> lineProblems_;        // by file name
    AuditLogOutcome auditLog_;
    std::map<std::string, const PlayerEntry*> byId_;
    Tally tally_;
    std::map<std::string, StreamedPlayer> done_;
    std::set<std::string> evidenceIds_;
    std::string lastId_;
};

Result<std::optional<AuditReport>> streamExport(tar::ByteSource& source, VerifyOptions& options,
                                                const ZoneLoader& loadZone) {
    return ExportStream(source, options, loadZone).run();
}
}  // namespace

std::string recordsPath(const std::string& playerId) {
    return "players/" + playerId + "/records.jsonl";
}
std::string checkpointsPath(const std::string& playerId) {
    return "players/" + playerId + "/checkpoints.jsonl";
}
manifest::Location locationOf(const PlayerEntry& p) {
    return {p.locationId, p.locationName, p.venueType, p.district, p.timeZone};
}

void setLocation(PlayerEntry& p, const manifest::Location& where) {
    p.locationId = where.id;
    p.locationName = where.name;
    p.venueType = where.venueType;
    p.district = where.district;
    p.timeZone = where.timeZone;
}

std::string manifestsPath(const std::string& playerId) {
    return "players/" + playerId + "/manifests.jsonl";
}

namespace {

json::Value optText(const std::optional<std::string>& s) {
    return s ? json::Value(*s) : json::Value(nullptr);
}

json::Object auditRowObject(const AuditRow& r) {
    return json::Object{{"seq", r.seq},
                        {"prev", r.prevHash},
                        {"at", r.atMs},
                        {"actor_id", r.actorId ? json::Value(*r.actorId) : json::Value(nullptr)},
                        {"actor", r.actor},
                        {"action", r.action},
                        {"entity", r.entity},
                        {"entity_id", optText(r.entityId)},
                        {"before", optText(r.beforeJson)},
                        {"after", optText(r.afterJson)}};
}

constexpr std::size_t kMaxAuditFailures = 100;

}  // namespace

std::string auditRowBytes(const AuditRow& row) {
    return json::canonical(json::Value(auditRowObject(row)));
}
std::string auditRowHash(const AuditRow& row) {
    return crypto::sha256Hex(auditRowBytes(row));
}
std::string auditLineBytes(const AuditRow& row) {
    auto o = auditRowObject(row);
    o.emplace("hash", row.hash);
    return json::canonical(json::Value(std::move(o)));
}

Result<AuditRow> parseAuditLine(std::string_view line) {
    json::ParseLimits limits;
    limits.maxBytes = kMaxAuditLineBytes;
    auto doc = json::parseCanonical(line, limits);
    if (!doc) return doc.error();
    auto f = json::Fields::of(*doc, "", "audit row: ");
    if (!f) return f.error();
    AuditRow r;
    MS_TRY(f->read("seq", r.seq));
    MS_TRY(f->read("at", r.atMs));
    for (auto [key, field] :
         {std::pair{"prev", &r.prevHash}, std::pair{"actor", &r.actor}, std::pair{"action", &r.action},
          std::pair{"entity", &r.entity}, std::pair{"hash", &r.hash}})
        MS_TRY(f->read(key, *field));
    auto actorId = f->getOrNull("actor_id", json::Value::Type::Int);
    if (!actorId) return actorId.error();
    if (*actorId) r.actorId = (*actorId)->asInt();
    for (auto [key, field] :
         {std::pair{"entity_id", &r.entityId}, std::pair{"before", &r.beforeJson}, std::pair{"after", &r.afterJson}}) {
        auto v = f->getOrNull(key, json::Value::Type::String);
        if (!v) return v.error();
        if (*v) *field = (*v)->asString();
    }
    MS_TRY(f->finish());
    return r;
}

Result<AuditHead> parseAuditHead(std::string_view text) {
    const auto colon = text.find(':');
    AuditHead h;
    if (colon == std::string_view::npos || colon == 0)
        return makeError(Errc::Usage, "an audit head is SEQ:HASH (as microscape-pack audit prints it)");
    std::int64_t seq = 0;
    for (char c : text.substr(0, colon)) {
        if (c < '0' || c > '9' || seq > 1'000'000'000'000'000LL)
            return makeError(Errc::Usage, "an audit head is SEQ:HASH; SEQ is a number");
        seq = seq * 10 + (c - '0');
    }
    h.seq = seq;
    h.hash = std::string(text.substr(colon + 1));
    if (!crypto::isSha256Hex(h.hash)) return makeError(Errc::Usage, "an audit head is SEQ:HASH; HASH is 64 hex digits");
    return h;
}

void AuditChainCheck::fail(std::string code, std::string message) {
    if (failures_.size() >= kMaxAuditFailures) {
        ++dropped_;
        return;
    }
    failures_.push_back({"", std::move(code), std::move(message)});
}

void AuditChainCheck::add(const AuditRow& row) {
    ++rows_;
    const std::string at = "audit log seq " + std::to_string(row.seq) + ": ";
    if (auditRowHash(row) != row.hash)
        fail("audit_hash", at + "the row does not match its hash (it was changed after it was written)");
    if (row.seq <= lastSeq_) {
        fail("audit_out_of_order", at + "comes after seq " + std::to_string(lastSeq_));
        return;
    }
    if (row.seq > lastSeq_ + 1)
        fail("audit_gap",
             "audit log seq " +
                 (row.seq - 1 == lastSeq_ + 1 ? std::to_string(lastSeq_ + 1)
                                              : std::to_string(lastSeq_ + 1) + ".." + std::to_string(row.seq - 1)) +
                 " missing (rows were deleted)");
    else if (row.prevHash != lastHash_)
        fail("audit_broken_link", at + "prev is not the hash of seq " + std::to_string(lastSeq_) +
                                      " (a row before it was changed or replaced)");
    lastSeq_ = row.seq;
    lastHash_ = row.hash;
    if (pinned_ && row.seq == pinned_->seq) pinnedFound_ = row.hash;
}

std::vector<Failure> AuditChainCheck::finish(const AuditHead& head) {
    const auto& pinned = pinned_;
    if (lastSeq_ != head.seq || lastHash_ != head.hash)
        fail("audit_head", "the audit log ends at seq " + std::to_string(lastSeq_) + " (" + lastHash_.substr(0, 16) +
                               "), export.json names seq " + std::to_string(head.seq) + " (" + head.hash.substr(0, 16) +
                               "): rows were deleted from its end or changed");
    if (pinned && pinned->seq > 0) {
        if (!pinnedFound_)
            fail("audit_pin", "the audit log has no row seq " + std::to_string(pinned->seq) +
                                  ", the head of an earlier export: rows were deleted");
        else if (*pinnedFound_ != pinned->hash)
            fail("audit_pin", "audit log seq " + std::to_string(pinned->seq) +
                                  " differs from the head of an earlier export: the log was rewritten");
    }
    if (dropped_)
        failures_.push_back({"", "audit_more", std::to_string(dropped_) + " more audit log failures not listed"});
    return std::move(failures_);
}

std::string Failure::str() const {
    return (playerId.empty() ? "" : "player " + playerId + ": ") + code + ": " + message;
}

std::string manifestBytes(const ExportManifest& m) {
    return json::canonical(manifestJson(m));
}
std::string keysBytes(const std::vector<PlayerEntry>& players) {
    return json::canonical(keysJson(players));
}
std::string mediaBytes(const std::vector<MediaName>& media) {
    return json::canonical(mediaJson(media));
}

Status writeExport(tar::ByteSink& sink, ExportManifest m, const std::vector<PlayerEntry>& players,
                   const std::vector<MediaName>& media, const std::map<std::string, PlayerEvidence>& evidence,
                   const crypto::PrivateKey& controllerKey, const std::vector<AuditRow>& auditRows) {
    std::vector<std::pair<std::string, std::string>> files;
    files.emplace_back(std::string(kKeysName), json::canonical(keysJson(players)));
    files.emplace_back(std::string(kMediaName), json::canonical(mediaJson(media)));
    std::string audit;
    for (const auto& r : auditRows) audit += auditLineBytes(r) + "\n";
    files.emplace_back(std::string(kAuditLogName), std::move(audit));
    m.auditHead = auditRows.empty() ? AuditHead{} : AuditHead{auditRows.back().seq, auditRows.back().hash};
    // Both files of every listed player (empty when it has nothing to prove yet)
    // and of any other player evidence is given for, in player id order.
    if (m.format < 2 || m.format > kFormatVersion)
        return makeError(Errc::UnsupportedFormat, "cannot write export format " + std::to_string(m.format));
    std::set<std::string> ids;
    if (m.format >= 3)
        for (const auto& p : players) ids.insert(p.playerId);
    for (const auto& [id, ev] : evidence) ids.insert(id);
    for (const auto& id : ids) {
        if (!manifest::isValidId(id)) return bad("bad player id '" + id + "'");
        std::string recs, cps, manifests;
        if (auto it = evidence.find(id); it != evidence.end()) {
            for (const auto& r : it->second.records) recs += pop::canonicalBytes(r) + "\n";
            for (const auto& c : it->second.checkpoints) cps += pop::canonicalBytes(c) + "\n";
            for (const auto& mb : it->second.manifests) manifests += mb + "\n";
        }
        if (m.format >= 4) files.emplace_back(manifestsPath(id), std::move(manifests));
        files.emplace_back(recordsPath(id), std::move(recs));
        files.emplace_back(checkpointsPath(id), std::move(cps));
    }
    m.signer = controllerKey.publicKey().id();
    m.files.clear();
    for (const auto& [name, data] : files) m.files.push_back({name, crypto::sha256Hex(data), data.size()});
    std::string manifestBytes = json::canonical(manifestJson(m));
    tar::Writer w(sink);
    std::int64_t mtime = m.createdAtMs / 1000;
    MS_TRY(w.add(kExportName, manifestBytes, mtime));
    MS_TRY(w.add(kExportSigName, controllerKey.sign(manifestBytes), mtime));
    for (const auto& [name, data] : files) MS_TRY(w.add(name, data, mtime));
    return w.finish();
}

Result<Export> readExport(tar::ByteSource& source) {
    tar::Reader reader(source);
    Export e;
    std::map<std::string, std::string> contents;  // every file but export.json/.sig
    std::optional<std::string> manifestBytes, sig;
    while (true) {
        auto next = reader.next();
        if (!next) return next.error();
        if (!*next) break;
        const tar::Header& h = **next;
        std::uint64_t limit = kMaxJsonBytes;
        if (h.name == kExportSigName) limit = 4096;
        if (!playerFile(h.name).id.empty() || h.name == kAuditLogName) limit = kMaxPlayerFileBytes;
        bool known = h.name == kExportName || h.name == kExportSigName || h.name == kKeysName || h.name == kMediaName ||
                     h.name == kAuditLogName || !playerFile(h.name).id.empty();
        if (!known) return makeError(Errc::ExtraEntry, "unexpected entry '" + h.name + "' in the export");
        auto data = tar::readEntry(reader, h, limit);
        if (!data) return data.error();
        if (h.name == kExportName) {
            if (manifestBytes) return makeError(Errc::DuplicateEntry, "export.json appears twice");
            manifestBytes = std::move(*data);
        } else if (h.name == kExportSigName) {
            if (sig) return makeError(Errc::DuplicateEntry, "export.sig appears twice");
            sig = std::move(*data);
        } else if (!contents.emplace(h.name, std::move(*data)).second) {
            return makeError(Errc::DuplicateEntry, h.name + " appears twice");
        }
    }
    if (!manifestBytes) return bad("the export has no export.json");
    auto m = parseManifest(*manifestBytes);
    if (!m) return m.error();
    e.manifest = std::move(*m);
    e.manifestBytes = std::move(*manifestBytes);
    e.signature = sig.value_or("");

    std::set<std::string> listed;
    for (const auto& f : e.manifest.files) {
        listed.insert(f.name);
        auto it = contents.find(f.name);
        if (it == contents.end()) {
            e.readProblems.push_back("missing_file: " + f.name + " is listed in export.json but absent");
            continue;
        }
        if (it->second.size() != f.sizeBytes || crypto::sha256Hex(it->second) != f.sha256)
            e.readProblems.push_back("file_hash: " + f.name + " does not match its hash in export.json");
    }
    for (const auto& [name, data] : contents)
        if (!listed.count(name)) e.readProblems.push_back("unlisted_file: " + name + " is not listed in export.json");

    auto keys = contents.find(std::string(kKeysName));
    if (keys == contents.end()) return bad("the export has no keys.json");
    auto players = parseKeys(keys->second);
    if (!players) return players.error();
    e.players = std::move(*players);
    if (auto media = contents.find(std::string(kMediaName)); media != contents.end()) {
        auto names = parseMedia(media->second);
        if (!names) return names.error();
        e.media = std::move(*names);
    }
    for (const auto& [name, data] : contents) {
        if (name == kAuditLogName) {
            e.hasAuditLog = true;
            parseLines(
                data, name, "bad_audit_row", parseBoundedAuditLine,
                [&](AuditRow row) { e.auditRows.push_back(std::move(row)); }, e.readProblems);
            continue;
        }
        auto [id, kind] = playerFile(name);
        if (id.empty()) continue;
        if (kind == PlayerFileKind::Manifests) {
            // The lines that are manifests, as they are (verify hashes them); the
            // player's evidence is its records and checkpoints.
            std::vector<std::string> lines;
            parseLines(
                data, name, "bad_manifest",
                [](std::string_view line) -> Result<std::string> {
                    MS_TRY(manifest::parse(line));
                    return std::string(line);
                },
                [&](std::string line) { lines.push_back(std::move(line)); }, e.readProblems);
            e.manifests[id] = std::move(lines);
            continue;
        }
        const bool isRecords = kind == PlayerFileKind::Records;
        if (!contents.count(isRecords ? checkpointsPath(id) : recordsPath(id))) e.incompleteEvidence.insert(id);
        auto& ev = e.evidence[id];
        if (isRecords)
            parseLines(
                data, name, "bad_record", pop::parseRecord, [&](pop::Record r) { ev.records.push_back(std::move(r)); },
                e.readProblems);
        else
            parseLines(
                data, name, "bad_checkpoint", pop::parseCheckpoint,
                [&](pop::Checkpoint c) { ev.checkpoints.push_back(std::move(c)); }, e.readProblems);
    }
    return e;
}

AuditResult verify(const Export& e, const VerifyOptions& options) {
    std::set<std::string> evidenceIds;
    for (const auto& [id, ev] : e.evidence) evidenceIds.insert(id);
    AuditLogOutcome auditLog;
    Tally tally;
    if (e.manifest.format >= 2) {
        AuditChainCheck check(options.pinnedAuditHead);
        for (const auto& r : e.auditRows) {
            check.add(r);
            tally.recalls.add(r);
        }
        auditLog.checked = e.hasAuditLog;
        auditLog.rows = check.rows();
        auditLog.failures = check.finish(e.manifest.auditHead.value_or(AuditHead{}));
    }
    return assemble(e.manifest, e.manifestBytes, e.signature, e.readProblems, e.players, evidenceIds,
                    e.incompleteEvidence, options, std::move(tally), auditLog,
                    [&](const PlayerEntry& p, const crypto::PublicKey& key, AuditResult& out, Tally& tally) {
                        const auto& ev = e.evidence.at(p.playerId);
                        out.records += ev.records.size();
                        out.checkpoints += ev.checkpoints.size();
                        auto report = pop::verifyChain(p.playerId, ev.records, ev.checkpoints, key);
                        for (const auto& f : report.findings) out.failures.push_back(chainFailure(p.playerId, f));
                        for (const auto& r : ev.records)
                            if (startsBeforeEnrollment(r, p)) {
                                out.failures.push_back({p.playerId, "before_enrolment", beforeEnrollmentMessage(r)});
                                break;
                            }
                        checkHeads(
                            p, key, options, e.manifest.createdAtMs, report.lastSeq,
                            [&](std::int64_t seq) -> std::optional<std::string> {
                                for (const auto& r : ev.records)
                                    if (r.seq == seq && r.playerId == p.playerId && pop::validate(r).ok())
                                        return pop::recordHash(r);
                                return std::nullopt;
                            },
                            out.failures);
                        PlayerPlaces places(p, options.zones, e.manifest.fromMs, e.manifest.toMs, tally.recalls);
                        if (auto ms = e.manifests.find(p.playerId); ms != e.manifests.end())
                            for (const auto& line : ms->second)
                                if (auto m = manifest::parse(line)) places.addManifest(line, *m);
                        for (const auto& r : ev.records) places.addRecord(r, tally);
                        places.finish(out.failures);
                    });
}

Result<AuditReport> verifyExport(const SourceOpener& open, VerifyOptions options, const ZoneLoader& loadZone) {
    {
        auto src = open();
        if (!src) return src.error();
        auto streamed = streamExport(**src, options, loadZone);
        if (!streamed) return streamed.error();
        if (*streamed) return std::move(**streamed);
    }
    auto src = open();
    if (!src) return src.error();
    auto e = readExport(**src);
    if (!e) return e.error();
    std::set<std::string> zoneNames;
    for (const auto& p : e->players) zoneNames.insert(p.timeZone);
    for (const auto& [id, lines] : e->manifests)
        for (const auto& line : lines)
            if (auto m = manifest::parse(line); m && m->location) zoneNames.insert(m->location->timeZone);
    for (const auto& z : zoneNames)
        if (!options.zones.count(z) && loadZone)
            if (auto zone = loadZone(z)) options.zones.emplace(z, std::move(*zone));
    AuditReport rep;
    rep.result = verify(*e, options);
    rep.manifest = std::move(e->manifest);
    rep.players = std::move(e->players);
    rep.media = std::move(e->media);
    rep.streamed = false;
    return rep;
}

}  // namespace microscape::audit
