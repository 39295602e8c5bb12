// Fuzz target: the ustar reader, bundle::readUnverified, bundle::preflight and bundle::verify over
// arbitrary bytes, as a player sees a bundle file from a USB stick. Verification
// uses one fixed trusted key (the deterministic test key 1, which also signs
// the seed corpus) so that mutated valid bundles get past the signature check.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "../tests/support/bundle_builder.hpp"
#include "fuzz_check.hpp"
#include "microscape/core/bundle.hpp"
#include "microscape/core/crypto.hpp"
#include "microscape/core/tar.hpp"

using namespace microscape;

namespace {

bool isTarError(Errc c) {
    return c == Errc::Truncated || c == Errc::BadTar || c == Errc::BadPath || c == Errc::BadEntryType ||
           c == Errc::EmptyBundle || c == Errc::TooLarge;
}

bool isVerifyError(Errc c) {
    return isTarError(c) || c == Errc::BadJson || c == Errc::NotCanonical || c == Errc::BadManifest ||
           c == Errc::UnsupportedFormat || c == Errc::UnknownSigner || c == Errc::BadSignature || c == Errc::Rollback ||
           c == Errc::Expired || c == Errc::HashMismatch || c == Errc::SizeMismatch || c == Errc::MissingMedia ||
           c == Errc::ExtraEntry || c == Errc::DuplicateEntry;
}

// Re-hashes what the verifier streams to it and checks the sink protocol.
class CheckingSink final : public bundle::MediaSink {
  public:
    Status begin(const std::string& sha256, std::uint64_t sizeBytes) override {
        FUZZ_CHECK(!open_);
        FUZZ_CHECK(crypto::isSha256Hex(sha256));
        open_ = true;
        sha_ = sha256;
        declared_ = sizeBytes;
        got_ = 0;
        return {};
    }
    Status write(const void* data, std::size_t n) override {
        FUZZ_CHECK(open_);
        hasher_.update(data, n);
        got_ += n;
        FUZZ_CHECK(got_ <= declared_);
        return {};
    }
    Status end() override {
        FUZZ_CHECK(open_);
        open_ = false;
        FUZZ_CHECK(got_ == declared_);
        FUZZ_CHECK(crypto::toHex(hasher_.finish()) == sha_);  // end() only after the hash matched
        completed[sha_] = got_;
        return {};
    }
    std::map<std::string, std::uint64_t> completed;

  private:
    crypto::Sha256 hasher_;
    std::string sha_;
    std::uint64_t declared_ = 0, got_ = 0;
    bool open_ = false;
};

void walkTar(std::string_view in) {
    tar::MemorySource source(in);
    tar::Reader reader(source);
    char buf[4096];
    while (true) {
        auto next = reader.next();
        if (!next) {
            FUZZ_CHECK(isTarError(next.code()));
            return;
        }
        if (!*next) {
            FUZZ_CHECK(reader.offset() == in.size());  // everything after the marker was looked at
            return;
        }
        const tar::Header& h = **next;
        FUZZ_CHECK(tar::isSafeName(h.name));
        FUZZ_CHECK(reader.offset() % tar::kBlockBytes == 0);
        std::uint64_t got = 0;
        while (true) {
            auto r = reader.read(buf, sizeof buf);
            if (!r) {
                FUZZ_CHECK(r.code() == Errc::Truncated);
                return;
            }
            if (*r == 0) break;
            got += *r;
        }
        FUZZ_CHECK(got == h.sizeBytes);
        FUZZ_CHECK(reader.offset() <= in.size());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bundle::VerifyOptions options =
        testing::verifyOptions({testing::testKey(1).publicKey()}, 1, testing::nowMs());
    std::string_view in(reinterpret_cast<const char*>(data), size);

    walkTar(in);

    tar::MemorySource listSource(in);
    auto listed = bundle::readUnverified(listSource);
    if (!listed) FUZZ_CHECK(isTarError(listed.code()) || listed.code() == Errc::BadManifest);

    // The import's first pass: everything but the hashes, without reading media.
    tar::MemorySource preSource(in);
    auto pre = bundle::preflight(preSource, options);
    if (!pre) FUZZ_CHECK(isVerifyError(pre.code()) && pre.code() != Errc::HashMismatch);

    tar::MemorySource verifySource(in);
    CheckingSink sink;
    auto v = bundle::verify(verifySource, options, &sink);
    if (!v) {
        // A bundle the first pass accepts fails the full check only on a hash.
        if (pre) FUZZ_CHECK(v.code() == Errc::HashMismatch);
        FUZZ_CHECK(isVerifyError(v.code()));
        FUZZ_CHECK(!v.error().message.empty());
        return 0;
    }
    // Accepted: the verdict must agree with every piece checked on its own.
    FUZZ_CHECK(pre.ok());
    FUZZ_CHECK(pre->manifestBytes == v->manifestBytes && pre->mediaBytes == v->mediaBytes);
    FUZZ_CHECK(listed.ok());
    FUZZ_CHECK(listed->manifestBytes == v->manifestBytes);
    FUZZ_CHECK(listed->hasSignature);
    auto m = manifest::parse(v->manifestBytes);
    FUZZ_CHECK(m.ok());
    FUZZ_CHECK(manifest::verifySignature(*m, v->manifestBytes, v->signature, options.trustedKeys).ok());
    FUZZ_CHECK(manifest::checkPolicy(*m, options.policy).ok());
    FUZZ_CHECK(sink.completed.size() == v->manifest.media.size());
    std::uint64_t total = 0;
    for (const auto& e : v->manifest.media) {
        auto it = sink.completed.find(e.sha256);
        FUZZ_CHECK(it != sink.completed.end());
        FUZZ_CHECK(it->second == e.sizeBytes);
        total += e.sizeBytes;
    }
    FUZZ_CHECK(total == v->mediaBytes);
    FUZZ_CHECK(listed->entries.size() == v->manifest.media.size() + 2);
    return 0;
}
