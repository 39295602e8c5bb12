// Manifest verification, the staged manifest, and atomic activation by symlink
// swap (docs/wire-protocol.md, "Activation").
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "microscape/core/json.hpp"
#include "microscape/pack/file_io.hpp"
#include "microscape/player/sync.hpp"

namespace microscape::player {

namespace fs = std::filesystem;

Result<manifest::Manifest> verifyManifest(std::string_view bytes, std::string_view signature,
                                          const std::vector<crypto::PublicKey>& keys, std::int64_t minVersion,
                                          std::int64_t nowMs, const std::string& playerId) {
    auto m = manifest::parse(bytes);
    if (!m) return m.error();
    MS_TRY(manifest::verifySignature(*m, bytes, signature, keys));
    MS_TRY(manifest::checkPolicy(*m, manifest::AcceptPolicy{minVersion, nowMs}));
    // A manifest compiled for another screen is refused; group targets are fine.
    if (m->target != playerId && m->target.rfind("scr-", 0) == 0)
        return makeError(Errc::BadManifest, "manifest is for " + m->target + ", not " + playerId);
    return m;
}

DataDirLock::DataDirLock(const fs::path& dataDir) {
    fd_ = ::open((dataDir / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0 && ::flock(fd_, LOCK_EX) != 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

DataDirLock::~DataDirLock() {
    if (fd_ >= 0) ::close(fd_);
}

BundleStore::BundleStore(fs::path dataDir, std::vector<crypto::PublicKey> keys, std::string playerId)
    : dir_(std::move(dataDir)), keys_(std::move(keys)), playerId_(std::move(playerId)) {
    std::error_code ec;
    fs::create_directories(dir_ / "bundles", ec);
}

Result<SignedManifest> BundleStore::readBundleDir(const fs::path& dir) const {
    auto bytes = crypto::readSmallFile((dir / "manifest.json").string(), manifest::kMaxManifestBytes);
    if (!bytes) return bytes.error();
    auto sig = crypto::readSmallFile((dir / "manifest.sig").string(), 4096);
    if (!sig) return sig.error();
    auto m = verifyManifest(*bytes, *sig, keys_, 1, 0, playerId_);
    if (!m) return m.error();
    return SignedManifest{std::move(*m), std::move(*bytes), std::move(*sig)};
}

Result<std::optional<ActivatedBundle>> BundleStore::active() const {
    std::error_code ec;
    const fs::path link = dir_ / "active";
    if (!fs::is_symlink(link, ec)) return std::optional<ActivatedBundle>();
    const fs::path target = fs::read_symlink(link, ec);
    if (ec) return makeError(Errc::Io, "cannot read the active link: " + ec.message());
    const fs::path bdir = dir_ / target;
    auto sm = readBundleDir(bdir);
    if (!sm) return makeError(sm.code(), "active bundle " + target.string() + ": " + sm.error().message);
    for (const auto& e : sm->manifest.media) {
        std::error_code e2;
        auto size = fs::file_size(dir_ / "blobs" / e.sha256, e2);
        if (e2) return makeError(Errc::MissingMedia, "active bundle lacks media " + e.sha256);
        if (size != e.sizeBytes)
            return makeError(Errc::SizeMismatch, "active media " + e.sha256 + " has the wrong size");
    }
    return std::optional<ActivatedBundle>(ActivatedBundle{std::move(sm->manifest), bdir, dir_ / "blobs"});
}

std::int64_t BundleStore::activeVersion() const {
    auto a = active();
    return (a && *a) ? (*a)->manifest.version : 0;
}

std::optional<SignedManifest> BundleStore::staged() const {
    auto text = crypto::readSmallFile((dir_ / "staged.json").string(), 2 * manifest::kMaxManifestBytes);
    if (!text) return std::nullopt;
    auto v = json::parse(*text, json::ParseLimits{2 * manifest::kMaxManifestBytes + 1024, 4});
    if (!v || !v->isObject()) return std::nullopt;
    auto mb = v->find("manifest");
    auto sb = v->find("signature");
    if (!mb || !sb || !mb->isString() || !sb->isString()) return std::nullopt;
    auto bytes = crypto::base64Decode(mb->asString());
    auto sig = crypto::base64Decode(sb->asString());
    if (!bytes || !sig) return std::nullopt;
    auto m = verifyManifest(*bytes, *sig, keys_, 1, 0, playerId_);
    if (!m) return std::nullopt;
    return SignedManifest{std::move(*m), std::move(*bytes), std::move(*sig)};
}

Status BundleStore::stage(const SignedManifest& m) {
    json::Object o{{"manifest", crypto::base64Encode(m.bytes)}, {"signature", crypto::base64Encode(m.signature)}};
    auto f = pack::AtomicFile::create((dir_ / "staged.json").string(), true, 0644);
    if (!f) return f.error();
    const std::string text = json::canonical(json::Value(o));
    MS_TRY(f->write(text.data(), text.size()));
    return f->commit();
}

void BundleStore::clearStaged() {
    std::error_code ec;
    fs::remove(dir_ / "staged.json", ec);
    (void)pack::syncDir(dir_.string());
}

std::set<std::string> BundleStore::referencedMedia() const {
    std::set<std::string> out;
    if (auto a = active(); a && *a)
        for (const auto& e : (*a)->manifest.media) out.insert(e.sha256);
    if (auto s = staged())
        for (const auto& e : s->manifest.media) out.insert(e.sha256);
    return out;
}

namespace {

Status writeSynced(const fs::path& path, std::string_view data) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return makeError(Errc::Io, "cannot create " + path.string() + ": " + std::strerror(errno));
    auto st = pack::writeAll(fd, data.data(), data.size(), path.string());
    if (st && ::fsync(fd) != 0) st = makeError(Errc::Io, "fsync failed for " + path.string());
    ::close(fd);
    return st;
}

}  // namespace

Status BundleStore::activate(const SignedManifest& m, const Cache& cache) {
    const std::int64_t current = activeVersion();
    if (m.manifest.version <= current)
        return makeError(Errc::Rollback, "version " + std::to_string(m.manifest.version) + " is not above the active " +
                                             std::to_string(current));
    for (const auto& e : m.manifest.media) {
        if (!cache.has(e.sha256)) return makeError(Errc::MissingMedia, "media " + e.sha256 + " is not in the cache");
        if (cache.blobSize(e.sha256) != e.sizeBytes)
            return makeError(Errc::SizeMismatch, "cached media " + e.sha256 + " has the wrong size");
    }
    const std::string name = "v" + std::to_string(m.manifest.version) + "-" + m.manifest.bundleId;
    const fs::path bundles = dir_ / "bundles";
    const fs::path tmp = bundles / (".tmp-" + name);
    const fs::path final = bundles / name;
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp, ec);
    if (ec) return makeError(Errc::Io, "cannot create " + tmp.string() + ": " + ec.message());
    MS_TRY(writeSynced(tmp / "manifest.json", m.bytes));
    MS_TRY(writeSynced(tmp / "manifest.sig", m.signature));
    MS_TRY(pack::syncDir(tmp.string()));
    fs::remove_all(final, ec);  // a leftover of an interrupted attempt; never the active one (version check)
    if (::rename(tmp.c_str(), final.c_str()) != 0)
        return makeError(Errc::Io, "cannot rename " + tmp.string() + ": " + std::strerror(errno));
    MS_TRY(pack::syncDir(bundles.string()));

    // The switch: one rename of a symlink.
    const fs::path next = dir_ / "active.new";
    fs::remove(next, ec);
    fs::path previous;
    if (fs::is_symlink(dir_ / "active", ec)) previous = fs::read_symlink(dir_ / "active", ec);
    if (::symlink(("bundles/" + name).c_str(), next.c_str()) != 0)
        return makeError(Errc::Io, "cannot create " + next.string() + ": " + std::strerror(errno));
    if (::rename(next.c_str(), (dir_ / "active").c_str()) != 0)
        return makeError(Errc::Io, "cannot switch the active link: " + std::string(std::strerror(errno)));
    MS_TRY(pack::syncDir(dir_.string()));

    // Keep the new and the previous bundle directories only.
    for (auto it = fs::directory_iterator(bundles, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
        const std::string n = it->path().filename().string();
        if (n == name || (!previous.empty() && ("bundles/" + n) == previous.string())) continue;
        std::error_code e2;
        fs::remove_all(it->path(), e2);
    }
    return {};
}

}  // namespace microscape::player
