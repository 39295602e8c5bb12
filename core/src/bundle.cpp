#include "microscape/core/bundle.hpp"

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <vector>

namespace microscape::bundle {

namespace {

struct SeenMedia {
    std::uint64_t sizeBytes = 0;
};

bool isMediaName(std::string_view name, std::string& sha) {
    if (name.substr(0, kMediaPrefix.size()) != kMediaPrefix) return false;
    sha = std::string(name.substr(kMediaPrefix.size()));
    return crypto::isSha256Hex(sha);
}

// A media entry's header against the per-file and per-bundle limits and the
// entries seen so far (mediaTotal: the sizes of those entries).
Status checkMediaHeader(const std::map<std::string, SeenMedia>& media, const std::string& sha, std::uint64_t sizeBytes,
                        std::uint64_t mediaTotal) {
    if (media.count(sha)) return makeError(Errc::DuplicateEntry, "media " + sha + " appears twice");
    if (sizeBytes > manifest::kMaxMediaBytes)
        return makeError(Errc::TooLarge, "media " + sha + " exceeds the per-file limit");
    if (mediaTotal + sizeBytes > manifest::kMaxBundleBytes)
        return makeError(Errc::TooLarge, "media in the bundle exceed the 64 GiB limit");
    return {};
}

// Everything after the archive pass: manifest, signature, policy, media set.
// manifest.json and manifest.sig: read whole (up to maxBytes), each at most once.
static Status readOnce(tar::Reader& reader, const tar::Header& h, std::uint64_t maxBytes,
                       std::optional<std::string>& slot) {
    if (slot) return makeError(Errc::DuplicateEntry, h.name + " appears twice");
    auto data = tar::readEntry(reader, h, maxBytes);
    if (!data) return data.error();
    slot = std::move(*data);
    return {};
}

Result<Verified> checkManifest(std::optional<std::string> manifestBytes, std::optional<std::string> signature,
                               const std::map<std::string, SeenMedia>& media, std::uint64_t mediaTotal,
                               const VerifyOptions& options) {
    if (!manifestBytes) return makeError(Errc::BadManifest, "the bundle has no manifest.json");
    auto m = manifest::parse(*manifestBytes);
    if (!m) return m.error();
    if (!signature) return makeError(Errc::BadSignature, "the bundle has no manifest.sig");
    MS_TRY(manifest::verifySignature(*m, *manifestBytes, *signature, options.trustedKeys));
    MS_TRY(manifest::checkPolicy(*m, options.policy));

    std::set<std::string> listed;
    for (const auto& e : m->media) {
        listed.insert(e.sha256);
        auto it = media.find(e.sha256);
        if (it == media.end())
            return makeError(Errc::MissingMedia,
                             "media " + e.sha256.substr(0, 16) + "… (" + e.name + ") is listed but not in the bundle");
        if (it->second.sizeBytes != e.sizeBytes)
            return makeError(Errc::SizeMismatch, "media " + e.sha256.substr(0, 16) + "… is " +
                                                     std::to_string(it->second.sizeBytes) +
                                                     " bytes; the manifest says " + std::to_string(e.sizeBytes));
    }
    for (const auto& [sha, seen] : media)
        if (!listed.count(sha))
            return makeError(Errc::ExtraEntry, "media/" + sha.substr(0, 16) + "… is not listed in the manifest");

    Verified v;
    v.manifest = std::move(*m);
    v.manifestBytes = std::move(*manifestBytes);
    v.signature = std::move(*signature);
    v.mediaBytes = mediaTotal;
    return v;
}

// One pass over the archive: manifest.json and manifest.sig read whole, each
// media entry's header checked against the limits; readMedia (if set) reads the
// media entry's data, otherwise the reader skips (seeks over) it. Then the
// manifest checks.
Result<Verified> scan(
    tar::ByteSource& source, const VerifyOptions& options,
    const std::function<Status(tar::Reader&, const std::string& sha, std::uint64_t size)>& readMedia) {
    tar::Reader reader(source);
    std::optional<std::string> manifestBytes, signature;
    std::map<std::string, SeenMedia> media;
    std::uint64_t mediaTotal = 0;
    while (true) {
        auto next = reader.next();
        if (!next) return next.error();
        if (!*next) break;
        const tar::Header& h = **next;
        std::string sha;
        if (h.name == kManifestName) {
            MS_TRY(readOnce(reader, h, manifest::kMaxManifestBytes, manifestBytes));
        } else if (h.name == kSignatureName) {
            MS_TRY(readOnce(reader, h, kMaxSignatureBytes, signature));
        } else if (isMediaName(h.name, sha)) {
            MS_TRY(checkMediaHeader(media, sha, h.sizeBytes, mediaTotal));
            if (readMedia) MS_TRY(readMedia(reader, sha, h.sizeBytes));
            mediaTotal += h.sizeBytes;
            media[sha] = SeenMedia{h.sizeBytes};
        } else {
            return makeError(Errc::ExtraEntry, "unexpected entry '" + h.name + "'");
        }
    }
    return checkManifest(std::move(manifestBytes), std::move(signature), media, mediaTotal, options);
}

}  // namespace

Result<Verified> verify(tar::ByteSource& source, const VerifyOptions& options, MediaSink* sink) {
    constexpr std::size_t kBufBytes = 256 * 1024;
    auto buf = std::make_unique_for_overwrite<char[]>(kBufBytes);
    return scan(source, options, [&](tar::Reader& reader, const std::string& sha, std::uint64_t size) -> Status {
        if (sink) MS_TRY(sink->begin(sha, size));
        crypto::Sha256 hasher;
        while (true) {
            auto r = reader.read(buf.get(), kBufBytes);
            if (!r) return r.error();
            if (*r == 0) break;
            hasher.update(buf.get(), *r);
            if (sink) MS_TRY(sink->write(buf.get(), *r));
        }
        std::string actual = crypto::toHex(hasher.finish());
        if (actual != sha)
            return makeError(Errc::HashMismatch,
                             "media/" + sha.substr(0, 16) + "… hashes to " + actual.substr(0, 16) + "…");
        if (sink) MS_TRY(sink->end());
        return {};
    });
}

Result<Verified> preflight(tar::ByteSource& source, const VerifyOptions& options) {
    return scan(source, options, nullptr);  // media data skipped, never read
}

Result<Unverified> readUnverified(tar::ByteSource& source) {
    tar::Reader reader(source);
    Unverified out;
    bool haveManifest = false;
    while (true) {
        auto next = reader.next();
        if (!next) return next.error();
        if (!*next) break;
        const tar::Header& h = **next;
        out.entries.emplace_back(h.name, h.sizeBytes);
        if (h.name == kManifestName && !haveManifest) {
            auto data = tar::readEntry(reader, h, manifest::kMaxManifestBytes);
            if (!data) return data.error();
            out.manifestBytes = std::move(*data);
            haveManifest = true;
        } else if (h.name == kSignatureName) {
            out.hasSignature = true;
        }
    }
    if (!haveManifest) return makeError(Errc::BadManifest, "the bundle has no manifest.json");
    return out;
}

}  // namespace microscape::bundle
