// Writes a large proof-of-play evidence export (docs/audit-export.md) for
// measuring `microscape-pack audit`: PLAYERS players with RECORDS signed,
// chained play records each, a checkpoint every 1000 records, over a 30-day
// period. Streams the archive (two passes per player: hash, then write), so it
// needs little memory whatever the size. Single-threaded.
//
//   bench_audit_export OUT_DIR [PLAYERS] [RECORDS_PER_PLAYER]
//   -> OUT_DIR/export.tar, OUT_DIR/controller.pub
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "bench_args.hpp"
#include "microscape/core/audit.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/pop.hpp"
#include "microscape/core/tar.hpp"

using namespace microscape;

namespace {

constexpr std::int64_t kFromMs = 1775001600000;  // 2026-04-01T00:00:00Z
constexpr std::int64_t kDays = 30;
constexpr std::size_t kCheckpointEvery = 1000;

class FileSink final : public tar::ByteSink {
  public:
    explicit FileSink(const std::string& path) : out_(path, std::ios::binary | std::ios::trunc) {}
    Status write(const void* buf, std::size_t n) override {
        out_.write(static_cast<const char*>(buf), static_cast<std::streamsize>(n));
        if (!out_) return makeError(Errc::Io, "write failed");
        return {};
    }
    bool ok() const { return static_cast<bool>(out_); }

  private:
    std::ofstream out_;
};

// Calls emit(records line, checkpoint line) for one player's whole chain, the
// same bytes every time (the key and the inputs are fixed).
template <typename Emit>
void chain(const std::string& id, const crypto::PrivateKey& key, std::size_t count,
           const std::vector<std::string>& media, const std::string& manifestSha, Emit emit) {
    std::vector<pop::Record> batch;
    std::string prev(pop::kGenesisHash);
    std::string prevCheckpoint(pop::kGenesisHash);
    const std::int64_t stepMs = kDays * 86400000 / static_cast<std::int64_t>(count);
    for (std::size_t i = 0; i < count; ++i) {
        pop::Record r;
        r.playerId = id;
        r.seq = static_cast<std::int64_t>(i) + 1;
        r.prevHash = prev;
        r.kind = pop::Kind::Play;
        r.bundleVersion = 7;
        r.manifestSha256 = manifestSha;  // where the screen is, under its signature
        r.mediaSha256 = media[i % media.size()];
        r.playlistId = "pl-daily";
        r.scheduleId = "sch-2026-04";
        r.source = "entry";
        r.campaignId = "cmp-2026-nsed";
        r.startUtcMs = kFromMs + static_cast<std::int64_t>(i) * stepMs;
        r.scheduledMs = 15000;
        r.measuredMs = i % 50 == 7 ? 6000 : 15000 + static_cast<std::int64_t>(i % 7) * 20;
        r.endUtcMs = r.startUtcMs + r.measuredMs;
        r.outcome = pop::classify(r.scheduledMs, r.measuredMs);
        r.frameDigest = crypto::sha256Hex("frame" + std::to_string(i));
        r.clockSkewMs = 12;
        std::string bytes = pop::canonicalBytes(r);
        prev = crypto::sha256Hex(bytes);
        emit(bytes + "\n", std::string());
        batch.push_back(std::move(r));
        if (batch.size() == kCheckpointEvery || i + 1 == count) {
            // Chained (format 2), as players make them.
            auto c = pop::makeCheckpoint(batch, batch.back().endUtcMs, key, prevCheckpoint);
            prevCheckpoint = pop::checkpointHash(c);
            emit(std::string(), pop::canonicalBytes(c) + "\n");
            batch.clear();
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir;
    std::int64_t playersArg = 20, perPlayerArg = 100000;
    microscape::bench::BenchArgs args("bench_audit_export",
                                      "Writes a large signed evidence export into OUT_DIR, for timing "
                                      "microscape-pack audit.");
    args.positional("OUT_DIR", "directory for the export (required)", dir)
        .positional("PLAYERS", "players in the export", playersArg, 1, 100000)
        .positional("RECORDS_PER_PLAYER", "play records per player", perPlayerArg, 1, 100000000);
    if (int rc = args.parse(argc, argv); rc >= 0) return rc;
    if (dir.empty()) {
        std::cerr << "bench_audit_export: OUT_DIR is required (see bench_audit_export --help)\n";
        return microscape::exitcode::kUsage;
    }
    const auto players = static_cast<std::size_t>(playersArg);
    const auto perPlayer = static_cast<std::size_t>(perPlayerArg);

    auto controller = crypto::PrivateKey::generate().value();
    std::vector<std::string> media;
    for (int m = 0; m < 12; ++m) media.push_back(crypto::sha256Hex("media" + std::to_string(m)));
    std::vector<audit::MediaName> mediaNames;
    for (std::size_t m = 0; m < media.size(); ++m)
        mediaNames.push_back({media[m], "宣传片 " + std::to_string(m), "video"});

    std::vector<audit::PlayerEntry> entries;
    std::vector<crypto::PrivateKey> keys;
    for (std::size_t p = 0; p < players; ++p) {
        char id[32];
        std::snprintf(id, sizeof id, "screen-%04zu", p);
        keys.push_back(crypto::PrivateKey::generate().value());
        auto pub = keys.back().publicKey();
        audit::PlayerEntry e;
        e.playerId = id;
        e.publicKeyB64 = crypto::base64Encode(pub.raw());
        e.keyId = pub.id();
        e.enrolledAtMs = kFromMs - 60LL * 86400000;
        e.enrolledBy = "admin";
        e.locationId = std::string("loc-") + id;
        e.locationName = std::string("派出所 ") + id;
        e.venueType = "police_station";
        e.district = "江汉区";
        e.timeZone = "Asia/Shanghai";
        entries.push_back(std::move(e));
    }
    // Each screen's signed manifest (format 2, its location): one line of its
    // manifests.jsonl, named by every record.
    std::vector<std::string> manifests;
    for (const auto& e : entries) {
        manifest::Manifest mf;
        mf.bundleId = "player-" + e.playerId;
        mf.version = 7;
        mf.issuedAtMs = kFromMs - 86400000;
        mf.expiresAtMs = kFromMs + (kDays + 1) * 86400000;
        mf.target = e.playerId;
        mf.schedule = json::Object{{"zone", e.timeZone}};
        mf.location = audit::locationOf(e);
        manifests.push_back(manifest::sign(mf, controller).bytes + "\n");
    }

    // Pass 1: the files' hashes and sizes for export.json.
    audit::ExportManifest m;
    m.exportId = "bench-export";
    m.createdAtMs = kFromMs + kDays * 86400000;
    m.fromMs = kFromMs;
    m.toMs = kFromMs + kDays * 86400000;
    m.signer = controller.publicKey().id();
    std::string keysJson = audit::keysBytes(entries), mediaJson = audit::mediaBytes(mediaNames);
    m.files.push_back({std::string(audit::kKeysName), crypto::sha256Hex(keysJson), keysJson.size()});
    m.files.push_back({std::string(audit::kMediaName), crypto::sha256Hex(mediaJson), mediaJson.size()});
    // An empty audit log (its head is seq 0): the entry is where the controller puts it.
    m.files.push_back({std::string(audit::kAuditLogName), crypto::sha256Hex(""), 0});
    for (std::size_t p = 0; p < players; ++p) {
        crypto::Sha256 rs, cs;
        std::uint64_t rn = 0, cn = 0;
        m.files.push_back(
            {audit::manifestsPath(entries[p].playerId), crypto::sha256Hex(manifests[p]), manifests[p].size()});
        const std::string named = crypto::sha256Hex(manifests[p].substr(0, manifests[p].size() - 1));
        chain(entries[p].playerId, keys[p], perPlayer, media, named,
              [&](const std::string& rec, const std::string& cp) {
                  rs.update(rec);
                  rn += rec.size();
                  cs.update(cp);
                  cn += cp.size();
              });
        m.files.push_back({audit::recordsPath(entries[p].playerId), crypto::toHex(rs.finish()), rn});
        m.files.push_back({audit::checkpointsPath(entries[p].playerId), crypto::toHex(cs.finish()), cn});
    }

    // Pass 2: the archive, in the controller's order.
    FileSink sink(dir + "/export.tar");
    tar::Writer w(sink);
    std::string manifest = audit::manifestBytes(m);
    auto check = [](const Status& s) {
        if (!s) {
            std::cerr << s.error().str() << "\n";
            std::exit(1);
        }
    };
    check(w.add(audit::kExportName, manifest));
    check(w.add(audit::kExportSigName, controller.sign(manifest)));
    check(w.add(audit::kKeysName, keysJson));
    check(w.add(audit::kMediaName, mediaJson));
    check(w.add(audit::kAuditLogName, ""));
    for (std::size_t p = 0; p < players; ++p) {
        const auto& manifestsFile = m.files[3 + 3 * p];
        const auto& recFile = m.files[4 + 3 * p];
        const auto& cpFile = m.files[5 + 3 * p];
        check(w.add(manifestsFile.name, manifests[p]));
        check(w.begin(recFile.name, recFile.sizeBytes));
        std::vector<std::string> cps;
        const std::string named = crypto::sha256Hex(manifests[p].substr(0, manifests[p].size() - 1));
        chain(entries[p].playerId, keys[p], perPlayer, media, named,
              [&](const std::string& rec, const std::string& cp) {
                  if (!rec.empty()) check(w.write(rec.data(), rec.size()));
                  if (!cp.empty()) cps.push_back(cp);
              });
        check(w.end());
        check(w.begin(cpFile.name, cpFile.sizeBytes));
        for (const auto& c : cps) check(w.write(c.data(), c.size()));
        check(w.end());
    }
    check(w.finish());
    std::ofstream(dir + "/controller.pub") << controller.publicKey().toPem();
    std::cout << dir << "/export.tar: " << players << " players x " << perPlayer << " records\n";
    return sink.ok() ? 0 : 1;
}
