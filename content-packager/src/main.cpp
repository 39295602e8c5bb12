// microscape-pack: keys, build, verify, inspect and extract signed bundles.
// Exit codes: the table of microscape/core/exit_codes.hpp (0 success, 1 the
// bundle or input is invalid or was rejected, 64 usage error). Errors are one
// line on stderr starting with a reason code.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "microscape/core/audit.hpp"
#include "microscape/core/bundle.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/exit_codes.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/manifest.hpp"
#include "microscape/core/pop.hpp"
#include "microscape/core/time.hpp"
#include "microscape/pack/builder.hpp"
#include "microscape/pack/extract.hpp"
#include "microscape/pack/file_io.hpp"
#include "microscape/pack/probe.hpp"

using namespace microscape;

namespace {

constexpr int kOk = exitcode::kOk, kInvalid = exitcode::kFailure, kUsage = exitcode::kUsage;

const char* kMainHelp = R"(microscape-pack — build and check Microscape content bundles

Usage: microscape-pack COMMAND [OPTIONS] [ARGS]

Commands:
  keygen    make a content signing key pair
  build     build a signed bundle from media files
  verify    verify a bundle completely
  inspect   print a bundle's manifest without verifying it
  extract   verify a bundle, then write its media into a directory
  audit     verify a proof-of-play evidence export offline and recount plays

Run 'microscape-pack COMMAND --help' for the options of a command,
'microscape-pack --version' for the version.
Errors are printed as one line: 'ReasonCode: details'.
)";

const std::map<std::string, std::string> kHelp = {
    {"keygen", R"(Usage: microscape-pack keygen --out DIR

Makes an Ed25519 content signing key pair: DIR/signing.key (PKCS#8 PEM,
mode 0600) and DIR/signing.pub (SubjectPublicKeyInfo PEM). DIR is created if
needed. Refuses to overwrite existing key files. Prints the key id (the
SHA-256 of the 32 public key bytes, hex).
)"},
    {"build",
     R"(Usage: microscape-pack build --key KEY --version N [OPTIONS] --out BUNDLE.tar MEDIA...

Builds a signed bundle. Each media file is read once and hashed while it is
written; its kind (image, video, audio, slogan) is detected from its content and
the duration of videos and audio is probed with libvlc.

Options:
  --key KEY          signing private key (PEM), e.g. from 'keygen'
  --version N        bundle version, a positive integer; players refuse any
                     version not above the one they run
  --expires TIME     ISO 8601 expiry (default: 30 days from now)
  --target ID        player id or group the bundle is for (default: all)
  --schedule FILE    schedule payload, a JSON object (default: {})
  --bundle-id ID     bundle id (default: random)
  --takeover         mark the bundle as an urgent takeover
  --out BUNDLE.tar   output file (written atomically)
  --force            overwrite BUNDLE.tar if it exists
)"},
    {"verify",
     R"(Usage: microscape-pack verify --pub PUB [--pub PUB2 ...] [--min-version N] [--now TIME] BUNDLE.tar

Verifies everything: the signature under one of the given public keys, every
media entry present with matching SHA-256 and size, no extra or duplicate
entries, no absolute or '..' paths, no links or devices, documented size
limits, version >= --min-version (default 1), and not expired at --now
(ISO 8601; default: the current time). Prints a summary on success.
BUNDLE.tar may be '-' for standard input.
)"},
    {"inspect", R"(Usage: microscape-pack inspect BUNDLE.tar

Prints the manifest as indented JSON on standard output WITHOUT verifying
anything (a note saying so goes to standard error). Use 'verify' before
trusting what it shows.
)"},
    {"extract",
     R"(Usage: microscape-pack extract --pub PUB [--pub PUB2 ...] [--min-version N] [--now TIME] BUNDLE.tar DIR

Verifies the bundle exactly as 'verify' does, then writes DIR/manifest.json,
DIR/manifest.sig and DIR/media/<sha256> (each file checked again as it is
written). If verification fails, nothing at all is written.
)"},
    {"audit",
     R"(Usage: microscape-pack audit [--pub CONTROLLER.pub] [--player-key ID=PUB.pem ... [--allow-unpinned]] [--head HEADS.jsonl ...] [--audit-head SEQ:HASH] [--csv] [--zoneinfo DIR] EXPORT.tar

Verifies an evidence export from the controller (GET /api/v1/audit/export)
without trusting the controller: every file against export.json, export.sig
under the controller key (when --pub is given), each player's hash chain from
seq 1, every checkpoint signature under that player's enrolled key and the
order and links of the checkpoints. Any altered, reordered, inserted or
duplicated record, and any removed before the end of a chain, is reported
(records removed from the end show with --head).
Then recounts the plays per location x local day x media (in each location's
time zone, from DIR, default /usr/share/zoneinfo) for the export's period and
prints them as a table, or as CSV (UTF-8 with BOM, for Excel/WPS) with --csv.
Each play is placed where the signed manifest its record names says the screen
was (location_mismatch when keys.json says otherwise, manifest_missing when the
export lacks that manifest); plays in records older than that field are placed
by keys.json, and the summary says how many.

--player-key ID=PUB.pem pins a player's key obtained independently (read off
the screen with 'microscape-player id'); the exported key must match it
(key_not_pinned). Pinned keys are a roster: every player in the export must be
pinned (unpinned_player), and every pinned player must be in the export with
its records and checkpoints (pinned_player_missing, missing_evidence).
--allow-unpinned verifies players that were not pinned under their exported
keys instead (the summary names them).

--head HEADS.jsonl (repeatable; one head a line) checks heads that the screens
stated on site ('microscape-player head' on the screen PC, collected before
the export was made): the export must reach each head, or records were left
out of the end of that screen's chain (head_not_reached, head_mismatch,
head_signature, head_unknown_player; head_after_export when a head the export
does not reach was taken after the export was made).

The controller's audit log (who changed what) travels hash-chained in the
export and is checked row by row: an edited row (audit_hash), deleted rows
(audit_gap, audit_broken_link, audit_head) are reported. The head it prints
("audit log head SEQ:HASH") is worth keeping: --audit-head SEQ:HASH with the
head of an earlier export checks that the log still holds that row unchanged
(audit_pin), which also catches a log rewritten from that row on.

Exit 0 only if everything verifies; 1 with one line per failure on stderr
(the counts are still printed, marked UNVERIFIED).
)"},
};

int fail(const Error& e) {
    std::cerr << e.str() << "\n";
    return kInvalid;
}

int usage(const std::string& command, const std::string& message) {
    std::cerr << "Usage: " << message << "\n";
    std::cerr << "Run 'microscape-pack " << (command.empty() ? "" : command + " ") << "--help' for help.\n";
    return kUsage;
}

// A tiny option parser: --name VALUE, repeatable; flags listed explicitly.
struct Args {
    std::multimap<std::string, std::string> opts;
    std::vector<std::string> positional;
    bool help = false;
    bool version = false;
};

// --version prints the program's version, except where a command takes
// --version N itself (build: the bundle version).
Result<Args> parseArgs(int argc, char** argv, int start, const std::vector<std::string>& valued,
                       const std::vector<std::string>& flags) {
    Args a;
    const bool ownVersion = std::find(valued.begin(), valued.end(), "version") != valued.end();
    for (int i = start; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            a.help = true;
            continue;
        }
        if (arg == "--version" && !ownVersion) {
            a.version = true;
            continue;
        }
        if (arg == "--") {
            for (++i; i < argc; ++i) a.positional.emplace_back(argv[i]);
            break;
        }
        if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
            std::string name = arg.substr(2), value;
            auto eq = name.find('=');
            bool inlineValue = eq != std::string::npos;
            if (inlineValue) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
            }
            if (std::find(flags.begin(), flags.end(), name) != flags.end() && !inlineValue) {
                a.opts.emplace(name, "1");
                continue;
            }
            if (std::find(valued.begin(), valued.end(), name) == valued.end())
                return makeError(Errc::Usage, "unknown option --" + name);
            if (!inlineValue) {
                if (i + 1 >= argc) return makeError(Errc::Usage, "option --" + name + " needs a value");
                value = argv[++i];
            }
            a.opts.emplace(name, value);
            continue;
        }
        if (arg.size() > 1 && arg[0] == '-') return makeError(Errc::Usage, "unknown option " + arg);
        a.positional.push_back(arg);
    }
    return a;
}

std::string one(const Args& a, const std::string& name, const std::string& def = "") {
    auto it = a.opts.find(name);
    return it == a.opts.end() ? def : it->second;
}

std::int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string humanBytes(std::uint64_t n) {
    char buf[32];
    if (n >= (1ull << 30))
        std::snprintf(buf, sizeof buf, "%.1f GiB", n / double(1ull << 30));
    else if (n >= (1ull << 20))
        std::snprintf(buf, sizeof buf, "%.1f MiB", n / double(1ull << 20));
    else if (n >= 1024)
        std::snprintf(buf, sizeof buf, "%.1f KiB", n / 1024.0);
    else
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    return buf;
}

Result<std::int64_t> parsePositive(const std::string& text, const std::string& what) {
    if (text.empty() || text.size() > 16 || text.find_first_not_of("0123456789") != std::string::npos)
        return makeError(Errc::Usage, what + " must be a positive integer");
    std::int64_t v = std::stoll(text);
    if (v < 1 || v > json::kMaxSafeInteger) return makeError(Errc::Usage, what + " must be a positive integer");
    return v;
}

int cmdKeygen(const Args& a) {
    std::string dir = one(a, "out");
    if (dir.empty() || !a.positional.empty()) return usage("keygen", "microscape-pack keygen --out DIR");
    ::mkdir(dir.c_str(), 0755);
    std::string keyPath = dir + "/signing.key", pubPath = dir + "/signing.pub";
    struct stat st {};
    for (const auto& p : {keyPath, pubPath})
        if (::stat(p.c_str(), &st) == 0) return fail(makeError(Errc::Exists, "refusing to overwrite " + p));
    auto key = crypto::PrivateKey::generate();
    if (!key) return fail(key.error());
    if (auto s = key->save(keyPath); !s) return fail(s.error());
    if (auto s = key->publicKey().save(pubPath); !s) {
        ::unlink(keyPath.c_str());
        return fail(s.error());
    }
    std::cout << "wrote " << keyPath << " (private, mode 0600) and " << pubPath << "\n";
    std::cout << "key id " << key->publicKey().id() << "\n";
    return kOk;
}

Result<std::vector<crypto::PublicKey>> loadPubs(const Args& a) {
    std::vector<crypto::PublicKey> keys;
    auto [begin, end] = a.opts.equal_range("pub");
    for (auto it = begin; it != end; ++it) {
        auto k = crypto::PublicKey::load(it->second);
        if (!k) return k.error();
        keys.push_back(std::move(*k));
    }
    return keys;
}

Result<bundle::VerifyOptions> verifyOptions(const Args& a) {
    bundle::VerifyOptions opt;
    auto keys = loadPubs(a);
    if (!keys) return keys.error();
    opt.trustedKeys = std::move(*keys);
    opt.policy.nowMs = nowMs();
    std::string now = one(a, "now");
    if (!now.empty()) {
        auto t = timeutil::parseIso8601(now);
        if (!t) return t.error();
        opt.policy.nowMs = *t;
    }
    std::string minV = one(a, "min-version");
    if (!minV.empty()) {
        auto v = parsePositive(minV, "--min-version");
        if (!v) return v.error();
        opt.policy.minVersion = *v;
    }
    return opt;
}

std::string keyLabel(const Args& a, const std::vector<crypto::PublicKey>& keys, const std::string& id) {
    auto [begin, end] = a.opts.equal_range("pub");
    std::size_t i = 0;
    for (auto it = begin; it != end; ++it, ++i)
        if (i < keys.size() && keys[i].id() == id) return it->second;
    return "";
}

void printSummary(const bundle::Verified& v, const std::string& keyFile) {
    const auto& m = v.manifest;
    std::cout << "OK: bundle " << m.bundleId << " version " << m.version << " (" << manifest::bundleKindName(m.kind)
              << ") for target " << m.target << "\n";
    std::cout << "signed by key " << m.signer.substr(0, 16) << "…" << (keyFile.empty() ? "" : " (" + keyFile + ")")
              << "; issued " << timeutil::formatUtc(m.issuedAtMs) << ", expires " << timeutil::formatUtc(m.expiresAtMs)
              << "\n";
    std::cout << m.media.size() << " media file" << (m.media.size() == 1 ? "" : "s") << ", " << humanBytes(v.mediaBytes)
              << ":\n";
    for (const auto& e : m.media) {
        std::cout << "  " << e.sha256.substr(0, 12) << "  " << mediaKindName(e.kind) << "  " << humanBytes(e.sizeBytes);
        if (e.durationMs > 0) std::cout << "  " << (e.durationMs / 1000) << "." << (e.durationMs % 1000 / 100) << " s";
        std::cout << "  " << e.name << " (" << e.fileName << ")\n";
    }
}

int cmdVerify(const Args& a) {
    if (a.positional.size() != 1 || a.opts.count("pub") == 0)
        return usage("verify",
                     "microscape-pack verify --pub PUB [--pub PUB2 ...] [--min-version N] [--now TIME] BUNDLE.tar");
    auto opt = verifyOptions(a);
    if (!opt) return opt.code() == Errc::Usage ? usage("verify", opt.error().message) : fail(opt.error());
    auto src = pack::FileSource::open(a.positional[0]);
    if (!src) return fail(src.error());
    auto v = bundle::verify(*src, *opt);
    if (!v) return fail(v.error());
    printSummary(*v, keyLabel(a, opt->trustedKeys, v->manifest.signer));
    return kOk;
}

int cmdInspect(const Args& a) {
    if (a.positional.size() != 1) return usage("inspect", "microscape-pack inspect BUNDLE.tar");
    auto src = pack::FileSource::open(a.positional[0]);
    if (!src) return fail(src.error());
    auto u = bundle::readUnverified(*src);
    if (!u) return fail(u.error());
    std::cerr << "inspect: NOT VERIFIED — this shows what the bundle claims; run 'verify' to check it\n";
    auto doc = json::parse(u->manifestBytes);
    if (!doc) return fail(doc.error());
    std::cout << json::pretty(*doc) << "\n";
    return kOk;
}

int cmdExtract(const Args& a) {
    if (a.positional.size() != 2 || a.opts.count("pub") == 0)
        return usage("extract", "microscape-pack extract --pub PUB [--min-version N] [--now TIME] BUNDLE.tar DIR");
    auto opt = verifyOptions(a);
    if (!opt) return opt.code() == Errc::Usage ? usage("extract", opt.error().message) : fail(opt.error());
    auto r = pack::extractBundle(a.positional[0], a.positional[1], *opt);
    if (!r) return fail(r.error());
    std::cout << "extracted " << r->manifest.media.size() << " media files (" << humanBytes(r->mediaBytes)
              << ") of bundle " << r->manifest.bundleId << " version " << r->manifest.version << " into "
              << a.positional[1] << "\n";
    return kOk;
}

int cmdBuild(const Args& a) {
    const char* synopsis =
        "microscape-pack build --key KEY --version N [--expires TIME] [--target ID] "
        "[--schedule FILE.json] --out BUNDLE.tar MEDIA...";
    std::string keyPath = one(a, "key"), versionText = one(a, "version"), out = one(a, "out");
    if (keyPath.empty() || versionText.empty() || out.empty() || a.positional.empty()) return usage("build", synopsis);
    auto version = parsePositive(versionText, "--version");
    if (!version) return usage("build", version.error().message);

    pack::BuildRequest req;
    req.outPath = out;
    req.overwrite = a.opts.count("force") > 0;
    req.version = *version;
    req.issuedAtMs = nowMs();
    req.expiresAtMs = req.issuedAtMs + 30LL * 24 * 3600 * 1000;
    if (std::string e = one(a, "expires"); !e.empty()) {
        auto t = timeutil::parseIso8601(e);
        if (!t) return usage("build", t.error().message);
        req.expiresAtMs = *t;
    }
    if (req.expiresAtMs / 1000 <= req.issuedAtMs / 1000)
        return fail(
            makeError(Errc::Expired, "--expires " + timeutil::formatUtc(req.expiresAtMs) + " is not in the future"));
    req.target = one(a, "target", "all");
    if (!manifest::isValidId(req.target))
        return usage("build", "--target must be 1-128 characters of [A-Za-z0-9._:@-]");
    req.bundleId = one(a, "bundle-id");
    if (!req.bundleId.empty() && !manifest::isValidId(req.bundleId))
        return usage("build", "--bundle-id must be 1-128 characters of [A-Za-z0-9._:@-]");
    if (a.opts.count("takeover")) req.kind = manifest::BundleKind::Takeover;
    if (std::string s = one(a, "schedule"); !s.empty()) {
        auto text = crypto::readSmallFile(s, manifest::kMaxManifestBytes);
        if (!text) return fail(text.error());
        auto doc = json::parse(*text);
        if (!doc) return fail(makeError(doc.code(), s + ": " + doc.error().message));
        if (!doc->isObject()) return fail(makeError(Errc::BadManifest, s + ": the schedule must be a JSON object"));
        req.schedule = std::move(*doc);
    }
    auto key = crypto::PrivateKey::load(keyPath);
    if (!key) return fail(key.error());

    auto prober = pack::MediaProber::create();
    if (!prober) return fail(prober.error());
    for (const auto& path : a.positional) {
        // Decoder libraries inside libvlc (libpng, ...) print to stderr on bad
        // input; keep our one-line error contract by silencing them while probing.
        auto info = [&] {
            std::fflush(stderr);
            int saved = ::dup(STDERR_FILENO);
            int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
            if (devnull >= 0) ::dup2(devnull, STDERR_FILENO);
            auto r = prober->probe(path);
            if (saved >= 0) {
                ::dup2(saved, STDERR_FILENO);
                ::close(saved);
            }
            if (devnull >= 0) ::close(devnull);
            return r;
        }();
        if (!info) return fail(info.error());
        pack::MediaInput in;
        in.path = path;
        in.info = *info;
        req.media.push_back(std::move(in));
    }
    auto r = pack::buildBundle(req, *key);
    if (!r) return fail(r.error());
    std::cout << "wrote " << out << ": bundle " << r->manifest.bundleId << " version " << r->manifest.version << ", "
              << r->manifest.media.size() << " media files, " << humanBytes(r->bytesWritten) << "\n";
    return kOk;
}

// One CSV field (docs/audit-export.md, "Output"): text a spreadsheet would run
// as a formula (first character = + - @ TAB CR) gets a leading ', then a field
// with a comma, quote, CR or LF is quoted with quotes doubled.
std::string csvField(std::string s) {
    if (!s.empty() && std::string_view("=+-@\t\r").find(s.front()) != std::string_view::npos) s.insert(0, 1, '\'');
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

// The heads in the files given by --head (one JSON head a line).
Status readHeadFiles(const Args& a, audit::VerifyOptions& opt) {
    auto [hb, he] = a.opts.equal_range("head");
    for (auto it = hb; it != he; ++it) {
        auto text = crypto::readSmallFile(it->second, 16u << 20);
        if (!text) return text.error();
        std::size_t pos = 0, lineNo = 0, count = 0;
        while (pos < text->size()) {
            std::size_t nl = text->find('\n', pos);
            if (nl == std::string::npos) nl = text->size();
            std::string_view line = std::string_view(*text).substr(pos, nl - pos);
            pos = nl + 1;
            ++lineNo;
            if (line.empty()) continue;
            auto h = pop::parseHead(line);
            if (!h)
                return makeError(
                    h.code(), "bad_head: " + it->second + " line " + std::to_string(lineNo) + ": " + h.error().message);
            opt.heads.push_back(std::move(*h));
            ++count;
        }
        if (count == 0) return makeError(Errc::BadManifest, "bad_head: " + it->second + " holds no head");
    }
    return {};
}

// What audit checks beyond the export itself; Usage errors for misuse.
Result<audit::VerifyOptions> auditOptions(const Args& a) {
    audit::VerifyOptions opt;
    if (std::string head = one(a, "audit-head"); !head.empty()) {
        auto h = audit::parseAuditHead(head);
        if (!h) return makeError(Errc::Usage, h.error().message);
        opt.pinnedAuditHead = *h;
    }
    if (std::string pub = one(a, "pub"); !pub.empty()) {
        auto k = crypto::PublicKey::load(pub);
        if (!k) return k.error();
        opt.controllerKey = std::move(*k);
    }
    auto [pb, pe] = a.opts.equal_range("player-key");
    for (auto it = pb; it != pe; ++it) {
        auto eq = it->second.find('=');
        if (eq == std::string::npos) return makeError(Errc::Usage, "--player-key takes ID=PUB.pem");
        auto k = crypto::PublicKey::load(it->second.substr(eq + 1));
        if (!k) return k.error();
        opt.pinnedPlayerKeyIds[it->second.substr(0, eq)] = k->id();
    }
    MS_TRY(readHeadFiles(a, opt));
    opt.allowUnpinned = a.opts.count("allow-unpinned") > 0;
    if (opt.allowUnpinned && opt.pinnedPlayerKeyIds.empty())
        return makeError(Errc::Usage, "--allow-unpinned goes with --player-key");
    return opt;
}

// Display names for the counts: media by the first media.json entry; locations
// as the verification named them (docs/audit-export.md).
struct AuditNames {
    std::map<std::string, std::string> media, locations;
    explicit AuditNames(const audit::AuditReport& e) : locations(e.result.locationNames) {
        for (const auto& m : e.media) media.emplace(m.sha256, m.name);
    }
};

void printAuditCsv(const audit::AuditReport& e, AuditNames& names) {
    const audit::AuditResult& r = e.result;
    const std::string status = r.ok() ? "VERIFIED" : "UNVERIFIED";
    std::cout << "\xef\xbb\xbf"
              << "location_id,location,date,media_sha256,media,completed,degraded,interrupted,failed,on_screen_seconds,"
                 "status\r\n";
    for (const auto& c : r.counts)
        std::cout << csvField(c.locationId) << "," << csvField(names.locations[c.locationId]) << "," << c.localDate
                  << "," << c.mediaSha256 << "," << csvField(names.media[c.mediaSha256]) << "," << c.completed << ","
                  << c.degraded << "," << c.interrupted << "," << c.failed << "," << (c.onScreenMs / 1000) << ","
                  << status << "\r\n";
}

// The recalls of the audit log, as the screens' records show them: a play of the
// recalled media after the screen confirmed the manifest without it is a
// problem of the network (reported), not of the evidence (not a failure).
void printRecalls(const audit::AuditResult& r, AuditNames& names) {
    if (!r.auditChecked) return;
    if (r.recalls.empty()) {
        std::cout << "recalls: none in the audit log\n";
        return;
    }
    std::size_t problems = 0;
    for (const auto& x : r.recalls) {
        const std::string name = x.mediaName.empty() ? names.media[x.mediaSha256] : x.mediaName;
        std::cout << "recall " << x.id << ": " << name << " (" << x.mediaSha256.substr(0, 12) << ") at "
                  << timeutil::formatUtcMs(x.recalledAtMs) << ", reason: " << x.reason << "; " << x.confirmed << " of "
                  << x.screens << " screens confirmed"
                  << (x.completedAtMs ? ", complete at " + timeutil::formatUtcMs(*x.completedAtMs) : ", not complete")
                  << "; last play "
                  << (x.lastPlayUtcMs ? timeutil::formatUtcMs(*x.lastPlayUtcMs) : std::string("none in the export"))
                  << "; plays after confirmation: " << x.playsAfterConfirmation.size() << "\n";
        for (const auto& p : x.playsAfterConfirmation)
            std::cout << "  PROBLEM: " << p.playerId << " seq " << p.seq << " started "
                      << timeutil::formatUtcMs(p.startUtcMs) << ", after the screen confirmed at "
                      << timeutil::formatUtcMs(p.confirmedUtcMs) << "\n";
        problems += x.playsAfterConfirmation.size();
    }
    std::cout << "recalls: " << r.recalls.size() << "; "
              << (problems ? std::to_string(problems) + " play(s) of recalled media after the screen's confirmation"
                           : std::string("no recalled media played after a screen's confirmation"))
              << "\n";
}

void printAuditSummary(const audit::AuditReport& e, AuditNames& names, std::size_t headCount) {
    const audit::AuditResult& r = e.result;
    std::cout << "export " << e.manifest.exportId << ": period " << timeutil::formatUtc(e.manifest.fromMs) << " .. "
              << timeutil::formatUtc(e.manifest.toMs) << "; " << r.players << " players, " << r.records << " records, "
              << r.checkpoints << " checkpoints; controller signature "
              << (r.signatureChecked ? "checked" : "NOT checked (no --pub)") << "\n";
    auto list = [](const std::vector<std::string>& ids) {
        std::string s;
        for (const auto& id : ids) s += (s.empty() ? "" : ", ") + id;
        return s;
    };
    if (r.pinnedPlayers.empty())
        std::cout << "player keys: none pinned (--player-key): the keys in keys.json are the "
                     "controller's word\n";
    else
        std::cout << "player keys pinned: " << r.pinnedPlayers.size() << " (" << list(r.pinnedPlayers)
                  << "); not pinned: " << r.unpinnedPlayers.size()
                  << (r.unpinnedPlayers.empty() ? "" : " (" + list(r.unpinnedPlayers) + ")") << "\n";
    std::cout << "locations: " << r.boundPlays << " of " << r.countedPlays
              << " counted plays located by the manifest the screen named (signed by the screen)";
    if (r.boundPlays < r.countedPlays)
        std::cout << "; " << (r.countedPlays - r.boundPlays)
                  << " by keys.json alone (the controller's word: records or manifests of format 1)";
    std::cout << "\n";
    std::cout << "screen heads: "
              << (headCount ? std::to_string(headCount) + " checked (--head)"
                            : "none given (--head): records cut from the end of a chain would not show")
              << "\n";
    if (r.auditChecked && e.manifest.auditHead)
        std::cout << "audit log: " << r.auditRows << " rows; audit log head " << e.manifest.auditHead->seq << ":"
                  << e.manifest.auditHead->hash << "\n";
    else
        std::cout << "audit log: not in this export (format " << e.manifest.format << ")\n";
    printRecalls(r, names);
    std::cout << "location | date | media | completed | degraded | interrupted | failed | on-screen s\n";
    for (const auto& c : r.counts)
        std::cout << names.locations[c.locationId] << " (" << c.locationId << ") | " << c.localDate << " | "
                  << names.media[c.mediaSha256] << " (" << c.mediaSha256.substr(0, 12) << ") | " << c.completed << " | "
                  << c.degraded << " | " << c.interrupted << " | " << c.failed << " | " << (c.onScreenMs / 1000)
                  << "\n";
    std::cout << (r.ok() ? "VERIFIED" : "UNVERIFIED: " + std::to_string(r.failures.size()) + " failures (see stderr)")
              << "\n";
}

int cmdAudit(const Args& a) {
    const char* synopsis =
        "microscape-pack audit [--pub CONTROLLER.pub] [--player-key ID=PUB.pem] "
        "[--audit-head SEQ:HASH] [--csv] EXPORT.tar";
    if (a.positional.size() != 1) return usage("audit", synopsis);
    auto opt = auditOptions(a);
    if (!opt) return opt.code() == Errc::Usage ? usage("audit", opt.error().message) : fail(opt.error());
    // Streams the export (bounded memory); an archive not in the controller's
    // order is opened again and verified in memory. Standard input can be read
    // again only when it is a file (rewound), not a pipe.
    const std::string path = a.positional[0];
    int opens = 0;
    audit::SourceOpener open = [&path, &opens]() -> Result<std::unique_ptr<tar::ByteSource>> {
        if (opens++ > 0 && path == "-" && ::lseek(STDIN_FILENO, 0, SEEK_SET) != 0)
            return makeError(Errc::Io,
                             "the export on standard input is not in the controller's order and must be "
                             "read twice to verify; pass it as a file");
        auto src = pack::FileSource::open(path);
        if (!src) return src.error();
        return std::unique_ptr<tar::ByteSource>(std::make_unique<pack::FileSource>(std::move(*src)));
    };
    std::string zoneDir = one(a, "zoneinfo", "/usr/share/zoneinfo");
    audit::ZoneLoader loadZone = [&zoneDir](const std::string& name) -> std::optional<tz::Zone> {
        auto bytes = tz::loadZoneFile(name, zoneDir);
        if (!bytes) return std::nullopt;  // reported as unknown_zone
        auto zone = tz::parseTzif(*bytes);
        if (!zone) return std::nullopt;
        return std::move(*zone);
    };
    const std::size_t headCount = opt->heads.size();
    auto e = audit::verifyExport(open, std::move(*opt), loadZone);
    if (!e) return fail(e.error());
    for (const auto& f : e->result.failures) std::cerr << "FAILED " << f.str() << "\n";
    AuditNames names(*e);
    if (a.opts.count("csv") > 0)
        printAuditCsv(*e, names);
    else
        printAuditSummary(*e, names, headCount);
    return e->result.ok() ? kOk : kInvalid;
}

}  // namespace

int printVersion() {
    std::cout << "microscape-pack " << MICROSCAPE_VERSION << " (bundle format " << manifest::kFormatVersion << ")\n";
    return kOk;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << kMainHelp << "\n" << exitcode::kHelpText;
        return kUsage;
    }
    std::string cmd = argv[1];
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
        // `help COMMAND` as well as `COMMAND --help`.
        if (argc > 2 && kHelp.count(argv[2]))
            std::cout << kHelp.at(argv[2]);
        else
            std::cout << kMainHelp;
        std::cout << "\n" << exitcode::kHelpText;
        return kOk;
    }
    if (cmd == "--version" || cmd == "-V") return printVersion();
    static const std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> kOptions = {
        {"keygen", {{"out"}, {}}},
        {"build", {{"key", "version", "expires", "target", "schedule", "bundle-id", "out"}, {"force", "takeover"}}},
        {"verify", {{"pub", "min-version", "now"}, {}}},
        {"inspect", {{}, {}}},
        {"extract", {{"pub", "min-version", "now"}, {}}},
        {"audit", {{"pub", "player-key", "zoneinfo", "audit-head", "head"}, {"csv", "allow-unpinned"}}},
    };
    auto spec = kOptions.find(cmd);
    if (spec == kOptions.end()) return usage("", "unknown command '" + cmd + "'");
    auto args = parseArgs(argc, argv, 2, spec->second.first, spec->second.second);
    if (!args) return usage(cmd, args.error().message);
    if (args->help) {
        std::cout << kHelp.at(cmd) << "\n" << exitcode::kHelpText;
        return kOk;
    }
    if (args->version) return printVersion();
    if (cmd == "keygen") return cmdKeygen(*args);
    if (cmd == "build") return cmdBuild(*args);
    if (cmd == "verify") return cmdVerify(*args);
    if (cmd == "inspect") return cmdInspect(*args);
    if (cmd == "audit") return cmdAudit(*args);
    return cmdExtract(*args);
}
