// Media library: streaming upload, slogans, metadata, approval workflow, download.
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/PartHandler.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <fstream>

#include "api.hpp"
#include "compiler.hpp"
#include "microscape/controller/hub.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/core/json.hpp"
#include "microscape/core/manifest.hpp"
#include "normalise.hpp"
#include "probe_process.hpp"
#include "recalls.hpp"

namespace microscape::controller {

Result<pack::MediaInfo> ProbeService::probe(const std::string& path, const ControllerConfig& config, Poco::Logger& log,
                                            std::string* refusal) {
    ProbeOptions opts;
    opts.helper = config.probeHelper.empty() ? defaultProbeHelper() : config.probeHelper;
    opts.timeoutMs = config.probeTimeoutSeconds * 1000;
    ProbeRun run;
    slots_.acquire();
    auto r = probeInHelper(path, opts, &run);
    slots_.release();
    if (refusal) *refusal = run.refusal;
    if (!r) {
        log.warning("media probe of %s: %s (%s; %.3f s)", path, r.error().message, run.detail, run.seconds);
    } else if (!sandboxLogged_.exchange(true)) {
        log.information("media probes run in %s, confined: %s", opts.helper.string(), run.sandbox);
    }
    return r;
}

Poco::JSON::Object::Ptr mediaJson(const Media& m) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", Poco::Int64(m.id));
    o->set("sha256", m.sha256);
    o->set("kind", m.kind);
    o->set("mime", m.mime);
    o->set("sizeBytes", Poco::Int64(m.sizeBytes));
    o->set("name", m.displayName);
    o->set("fileName", nullableStr(m.originalName));
    o->set("department", nullableStr(m.department));
    o->set("state", std::string(mediaStateName(m.state)));
    o->set("uploadedBy", Poco::Int64(m.uploadedBy));
    o->set("reviewedBy", nullable(m.reviewedBy));
    o->set("reviewReason", nullableStr(m.reviewReason));
    o->set("reviewedAt", optIso(m.reviewedAtMs));
    o->set("durationMs", nullable(m.durationMs));
    o->set("width", nullable(m.width));
    o->set("height", nullable(m.height));
    o->set("tags", toArray(m.tags));
    o->set("validUntil", optIso(m.validUntilMs));
    if (!m.sloganJson.empty()) o->set("slogan", parseStoredJson(m.sloganJson));
    o->set("contentUrl", "/api/v1/media/" + std::to_string(m.id) + "/content");
    o->set("createdAt", isoUtc(m.createdAtMs));
    o->set("updatedAt", isoUtc(m.updatedAtMs));
    o->set("codec", nullableStr(m.codec));
    o->set("background", nullableStr(m.background));
    return o;
}

Poco::JSON::Object::Ptr derivedJson(const Media& m, const MediaDerived& d) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("id", Poco::Int64(d.id));
    o->set("purpose", d.purpose);
    o->set("state", d.state);
    o->set("boxWidth", d.boxWidth ? Poco::Dynamic::Var(Poco::Int64(d.boxWidth)) : Poco::Dynamic::Var());
    o->set("boxHeight", d.boxHeight ? Poco::Dynamic::Var(Poco::Int64(d.boxHeight)) : Poco::Dynamic::Var());
    o->set("sha256", nullableStr(d.sha256));
    o->set("kind", nullableStr(d.kind));
    o->set("mime", nullableStr(d.mime));
    o->set("sizeBytes", d.state == "ready" ? Poco::Dynamic::Var(Poco::Int64(d.sizeBytes)) : Poco::Dynamic::Var());
    o->set("durationMs", nullable(d.durationMs));
    o->set("width", nullable(d.width));
    o->set("height", nullable(d.height));
    o->set("derivedFrom", m.sha256);
    o->set("transform", nullableStr(d.transform));
    o->set("error", nullableStr(d.error));
    o->set("contentUrl", d.state == "ready" ? Poco::Dynamic::Var("/api/v1/media/" + std::to_string(m.id) + "/derived/" +
                                                                 std::to_string(d.id) + "/content")
                                            : Poco::Dynamic::Var());
    o->set("updatedAt", isoUtc(d.updatedAtMs));
    return o;
}

Poco::JSON::Object::Ptr mediaJson(DbConn& c, const Media& m) {
    auto o = mediaJson(m);
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& d : repo::derivedOf(c, m.id)) arr->add(derivedJson(m, d));
    o->set("derived", arr);
    return o;
}

namespace {

constexpr std::size_t kMaxSloganBytes = 2000;

std::vector<std::string> splitTags(const std::string& csv) {
    std::vector<std::string> out;
    std::string cur;
    auto flush = [&] {
        std::string t = Poco::trim(cur);
        if (!t.empty() && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
        cur.clear();
    };
    for (char c : csv) {
        if (c == ',')
            flush();
        else
            cur += c;
    }
    flush();
    for (const auto& t : out)
        if (t.size() > 200 || !json::isValidUtf8(t)) badRequest("a tag is overlong or not UTF-8");
    return out;
}

void checkFileName(const std::string& name) {
    if (!manifest::isValidFileName(name))
        throw ApiError(400, "bad_filename",
                       "file name must be 1-255 bytes of UTF-8 without '/', '\\\\', control characters, '.' or '..'");
}

void checkDisplayName(const std::string& name) {
    if (!manifest::isValidDisplayName(name))
        badRequest("name must be 1-255 bytes of UTF-8 text without control characters");
}

// Receives a multipart/form-data upload: the first file part streams to disk,
// text fields are kept by HTMLForm.
class UploadPartHandler : public Poco::Net::PartHandler {
  public:
    UploadPartHandler(MediaStore& store, std::uint64_t maxBytes) : store_(store), maxBytes_(maxBytes) {}
    ~UploadPartHandler() override {
        if (stored && stored->ok()) store_.discard(stored->value());
    }
    void handlePart(const Poco::Net::MessageHeader& header, std::istream& stream) override {
        std::string disp;
        Poco::Net::NameValueCollection params;
        if (header.has("Content-Disposition"))
            Poco::Net::MessageHeader::splitParameters(header.get("Content-Disposition"), disp, params);
        if (stored || !params.has("filename")) {
            char buf[8192];
            while (stream.read(buf, sizeof buf) || stream.gcount() > 0) {
            }
            return;
        }
        fileName = params.get("filename");
        stored = store_.receive(stream, maxBytes_);
    }
    void release() { stored.reset(); }  // ownership of the temp file moves to the caller

    std::optional<Result<MediaStore::Stored>> stored;
    std::string fileName;

  private:
    MediaStore& store_;
    std::uint64_t maxBytes_;
};

bool validColour(const std::string& s) {
    if (s.size() != 7 || s[0] != '#') return false;
    for (std::size_t i = 1; i < 7; ++i)
        if (!std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
    return true;
}

// An upload that cannot be used: 415 for a format Microscape does not know,
// 422 for a known format whose content cannot be used; the code names why
// (docs/controller-api.md "Refusal codes").
[[noreturn]] void refuse(const std::string& code, const std::string& message) {
    throw ApiError(code == "unknown_format" ? 415 : 422, code, message);
}

// Whether a PNG or JPEG ends with its end marker (a cut-off one is refused
// before ImageMagick would fill the missing part with grey).
bool stillEndsWhole(const std::filesystem::path& p, const std::string& mime, std::uint64_t size) {
    if (mime != "image/png" && mime != "image/jpeg") return true;
    std::ifstream in(p, std::ios::binary);
    const std::uint64_t n = std::min<std::uint64_t>(size, 1024);
    in.seekg(static_cast<std::streamoff>(size - n));
    std::string tail(n, '\0');
    in.read(tail.data(), static_cast<std::streamsize>(n));
    if (!in) return false;
    if (mime == "image/png") {
        static const std::string kIend("\x00\x00\x00\x00IEND\xAE\x42\x60\x82", 12);
        return tail.size() >= 12 && tail.compare(tail.size() - 12, 12, kIend) == 0;
    }
    return tail.find("\xFF\xD9") != std::string::npos;
}

std::string sizeText(std::uint64_t bytes) {
    if (bytes < 10 * 1024) return std::to_string(bytes) + " bytes";
    if (bytes < 10 * 1024 * 1024) return std::to_string(bytes / 1024) + " KB";
    return std::to_string(bytes / (1024 * 1024)) + " MB";
}

void finishUpload(RequestCtx& ctx, MediaStore::Stored stored, const std::string& fileName, std::string displayName,
                  std::vector<std::string> tags, const std::string& department, const std::string& background) {
    auto& svc = ctx.svc;
    struct Discard {
        MediaStore& store;
        MediaStore::Stored* s;
        ~Discard() {
            if (s) store.discard(*s);
        }
    } guard{svc.media, &stored};

    auto existing = svc.db.read([&](DbConn& c) { return repo::mediaBySha(c, stored.sha256); });
    if (existing) {
        svc.metrics.uploadsDeduplicated++;
        auto out = svc.db.read([&](DbConn& c) { return mediaJson(c, *existing); });
        out->set("deduplicated", true);
        ctx.sendJson(200, out);
        return;
    }
    // Error bodies name no server path: the messages say "the file", and the
    // details (with the temporary path) go to the log.
    const DetectedType sniffed = detectMediaKind(stored.head);
    const std::string sniffedMime(sniffed.mime);
    std::optional<DerivedFile> derived;
    std::optional<MediaStore::Stored> derivedStored;
    struct DiscardDerived {
        std::optional<DerivedFile>& d;
        bool keep = false;
        ~DiscardDerived() {
            if (d && !keep) {
                std::error_code ec;
                std::filesystem::remove(d->path, ec);
            }
        }
    } derivedGuard{derived};
    std::optional<StillInfo> still;
    if (sniffed.kind == MediaKind::Image) {
        NormaliseOptions opts;
        opts.timeoutMs = svc.config.normaliseTimeoutSeconds * 1000;
        opts.memoryBytes = svc.config.normaliseMemoryBytes;
        opts.maxSide = svc.config.stillMaxSide;
        opts.maxPixels = svc.config.stillMaxPixels;
        opts.tmpDir = svc.media.root() / "tmp";
        Refused refused;
        NormaliseStep step;
        if (!stillEndsWhole(stored.tmpPath, sniffedMime, stored.sizeBytes))
            refuse("truncated", "the file ends after " + sizeText(stored.sizeBytes) +
                                    " without the end-of-image marker: truncated? Upload the complete file again");
        auto info = inspectStill(stored.tmpPath, sniffedMime, opts, &refused, &step);
        if (!info) {
            svc.log.warning("media upload %s: %s (%s)", stored.sha256, info.error().message, step.detail);
            if (info.code() == Errc::BadMedia) refuse(refused.code, refused.message);
            throw ApiError(422, "probe_failed", "the file could not be examined: " + info.error().message);
        }
        still = *info;
        if (!stillPlaysAsIs(*info, sniffedMime, opts.maxSide)) {
            auto d = normaliseStill(stored.tmpPath, sniffedMime, *info, background, opts, &refused, &step);
            svc.log.information("media upload %s: normalising: %s", stored.sha256, step.detail);
            if (!d) {
                if (d.code() == Errc::BadMedia) refuse(refused.code, refused.message);
                throw ApiError(422, "probe_failed", "the file could not be converted: " + d.error().message);
            }
            derived = std::move(*d);
        }
    }
    // The file screens will play must really decode (a picture; for sound, a sample).
    std::string refusal;
    auto info =
        svc.probe.probe(derived ? derived->path.string() : stored.tmpPath.string(), svc.config, svc.log, &refusal);
    if (!info) {
        if (info.code() == Errc::BadMedia) {
            if (derived) {
                svc.log.error("media upload %s: the converted file does not decode: %s", stored.sha256,
                              info.error().message);
                throw ApiError(422, "probe_failed", "the converted file could not be decoded; report this file");
            }
            refuse(refusal.empty() ? "no_picture" : refusal, info.error().message);
        }
        if (info.code() == Errc::Internal)
            throw ApiError(422, "probe_failed", "the file could not be examined: " + info.error().message);
        throw ApiError(500, "internal", info.error().message);
    }
    if (info->kind == MediaKind::Text)
        throw ApiError(415, "unsupported_media", "slogans are created with POST /api/v1/media/slogans");
    if (info->kind != MediaKind::Image && info->kind != MediaKind::Video && info->kind != MediaKind::Audio)
        refuse("unknown_format", "not an image, video or audio file");
    if (info->kind == MediaKind::Video && !derived && (info->width > 4096 || info->height > 4096))
        refuse("video_too_large", std::to_string(info->width) + "\xC3\x97" + std::to_string(info->height) +
                                      " is larger than the 4096\xC3\x97"
                                      "4096 the controller accepts for a clip; "
                                      "export it at 3840\xC3\x97"
                                      "2160 or smaller and upload it again");

    Media m;
    m.sha256 = stored.sha256;
    m.kind = derived ? derived->kind : std::string(mediaKindName(info->kind));
    m.mime = sniffed.kind == MediaKind::Image ? sniffedMime : info->mime;
    m.sizeBytes = static_cast<std::int64_t>(stored.sizeBytes);
    m.displayName = displayName.empty() ? fileName : displayName;
    m.originalName = fileName;
    m.department = department;
    m.state = MediaState::Draft;
    m.uploadedBy = ctx.principal().user.id;
    if (derived && derived->kind == "video") m.durationMs = derived->durationMs;
    if (info->durationMs > 0 && info->kind != MediaKind::Image) m.durationMs = info->durationMs;
    if (still) {  // the picture as the approver sees it (upright)
        const bool swap = still->orientation >= 5;
        m.width =
            still->frames > 1 && still->canvasWidth > 0 ? still->canvasWidth : (swap ? still->height : still->width);
        m.height =
            still->frames > 1 && still->canvasHeight > 0 ? still->canvasHeight : (swap ? still->width : still->height);
        if (still->alpha || still->frames > 1) m.background = background;
    } else {
        if (info->width > 0) m.width = info->width;
        if (info->height > 0) m.height = info->height;
        if (info->kind == MediaKind::Video || info->kind == MediaKind::Audio) m.codec = info->codec;
    }
    m.tags = std::move(tags);
    m.createdAtMs = m.updatedAtMs = svc.nowMs();

    MediaDerived row;
    if (derived) {
        auto ds = svc.media.adopt(derived->path);
        if (!ds) {
            svc.log.error("media %s: %s", stored.sha256, ds.error().message);
            throw ApiError(500, "internal", "the converted file could not be stored");
        }
        row.purpose = "normalised";
        row.state = "ready";
        row.sha256 = ds->sha256;
        row.kind = derived->kind;
        row.mime = derived->mime;
        row.sizeBytes = static_cast<std::int64_t>(ds->sizeBytes);
        if (derived->kind == "video") row.durationMs = info->durationMs > 0 ? info->durationMs : derived->durationMs;
        row.width = info->width > 0 ? info->width : derived->width;
        row.height = info->height > 0 ? info->height : derived->height;
        row.transform = derived->transform;
        row.createdAtMs = row.updatedAtMs = m.createdAtMs;
        if (auto st = svc.media.commit(*ds); !st) {
            svc.log.error("media %s: derived %s: %s", stored.sha256, ds->sha256, st.error().message);
            throw ApiError(500, "internal", "the converted file could not be stored");
        }
        derivedGuard.keep = true;
    }
    if (auto st = svc.media.commit(stored); !st) {
        svc.log.error("media %s: %s", stored.sha256, st.error().message);
        throw ApiError(500, "internal", "the upload could not be stored");
    }
    guard.s = nullptr;
    Poco::JSON::Object::Ptr savedJson;
    Media saved;
    try {
        saved = svc.db.write([&](DbConn& c) {
            m.id = repo::insertMedia(c, m);
            if (derived) {
                row.mediaId = m.id;
                row.id = repo::insertDerived(c, row);
            }
            auto s = *repo::mediaById(c, m.id);
            savedJson = mediaJson(c, s);
            recordAudit(c, ctx, "upload", "media", std::to_string(m.id), {}, savedJson);
            return s;
        });
    } catch (const ConstraintError&) {
        // The same content arrived concurrently; the other upload won.
        auto other = svc.db.read([&](DbConn& c) { return repo::mediaBySha(c, m.sha256); });
        if (!other) throw;
        auto out = svc.db.read([&](DbConn& c) { return mediaJson(c, *other); });
        out->set("deduplicated", true);
        ctx.sendJson(200, out);
        return;
    }
    svc.metrics.uploadsTotal++;
    svc.metrics.uploadBytesTotal += m.sizeBytes;
    svc.log.information("media %Ld uploaded by %s: %s (%s, %Ld bytes)%s", saved.id, ctx.principal().user.username,
                        saved.sha256, saved.kind, saved.sizeBytes,
                        derived ? " played as " + row.sha256 + " (" + row.transform + ")" : std::string());
    ctx.sendJson(201, savedJson);
}

void upload(RequestCtx& ctx) {
    auto& svc = ctx.svc;
    const std::uint64_t cap = svc.config.maxUploadBytes;
    if (ctx.req.hasContentLength() && ctx.req.getContentLength64() > static_cast<Poco::Int64>(cap))
        throw ApiError(413, "too_large", "upload exceeds the limit of " + std::to_string(cap) + " bytes");
    const std::string contentType = ctx.req.getContentType();
    std::string fileName, displayName, tagsCsv, background;
    std::optional<std::string> department;
    std::optional<MediaStore::Stored> stored;

    if (Poco::icompare(contentType.substr(0, 19), "multipart/form-data") == 0) {
        UploadPartHandler parts(svc.media, cap);
        Poco::Net::HTMLForm form;
        form.setFieldLimit(20);
        try {
            form.load(ctx.req, ctx.req.stream(), parts);
        } catch (const Poco::Exception& e) {
            badRequest("malformed multipart body: " + e.message());
        }
        if (!parts.stored) badRequest("multipart upload without a file part");
        if (!parts.stored->ok()) {
            auto code = parts.stored->code();
            if (code == Errc::TooLarge) throw ApiError(413, "too_large", parts.stored->error().message);
            svc.log.error("upload into %s failed: %s", (svc.media.root() / "tmp").string(),
                          parts.stored->error().message);
            throw ApiError(400, "upload_failed", "the upload could not be received and stored");
        }
        stored = parts.stored->value();
        parts.release();
        fileName = parts.fileName;
        displayName = form.get("name", "");
        tagsCsv = form.get("tags", "");
        background = form.get("background", "");
        if (form.has("department")) department = form.get("department");
    } else {
        fileName = ctx.query("filename").value_or(ctx.req.get("X-File-Name", ""));
        if (ctx.req.has("X-File-Name") && !ctx.query("filename")) {
            std::string decoded;
            Poco::URI::decode(fileName, decoded);
            fileName = decoded;
        }
        displayName = ctx.query("name").value_or("");
        tagsCsv = ctx.query("tags").value_or("");
        background = ctx.query("background").value_or("");
        department = ctx.query("department");
        if (fileName.empty()) badRequest("give the file name as ?filename= or the X-File-Name header");
        checkFileName(fileName);
        if (!displayName.empty()) checkDisplayName(displayName);
        auto r = svc.media.receive(ctx.req.stream(), cap);
        if (!r) {
            if (r.code() == Errc::TooLarge) throw ApiError(413, "too_large", r.error().message);
            svc.log.error("upload into %s failed: %s", (svc.media.root() / "tmp").string(), r.error().message);
            throw ApiError(400, "upload_failed", "the upload could not be received and stored");
        }
        stored = std::move(*r);
    }
    // Multipart values are checked after the body is read; the temp file is
    // discarded by finishUpload's guard or here.
    try {
        checkFileName(fileName);
        if (!displayName.empty()) checkDisplayName(displayName);
        if (stored->sizeBytes == 0) badRequest("empty upload");
        if (background.empty()) background = "#000000";
        if (!validColour(background))
            badRequest("background must look like #RRGGBB (the colour transparent parts are shown over)");
        for (auto& ch : background) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        auto tags = splitTags(tagsCsv);
        auto dept = departmentFor(ctx, department);
        finishUpload(ctx, *stored, fileName, displayName, std::move(tags), dept, background);
    } catch (...) {
        svc.media.discard(*stored);
        throw;
    }
}

void createSlogan(RequestCtx& ctx) {
    auto body = ctx.jsonBody();
    const std::string text = reqString(body, "text", kMaxSloganBytes);
    if (!json::isValidUtf8(text)) badRequest("text must be UTF-8");
    std::string name = optString(body, "name", 255).value_or(text.substr(0, std::min<std::size_t>(text.size(), 60)));
    if (!json::isValidUtf8(name)) name = "slogan";
    checkDisplayName(name);
    json::Object style{{"background", "#000000"}, {"color", "#FFD700"}, {"fontSizePx", 48}, {"scrollSpeedPxPerS", 0}};
    if (auto st = optObject(body, "style")) {
        for (const char* k : {"background", "color"})
            if (auto v = optString(*st, k, 7)) {
                if (!validColour(*v)) badRequest(std::string("style.") + k + " must look like #RRGGBB");
                style[k] = *v;
            }
        if (auto v = optInt(*st, "fontSizePx")) {
            if (*v < 8 || *v > 1000) badRequest("style.fontSizePx must be within 8..1000");
            style["fontSizePx"] = *v;
        }
        if (auto v = optInt(*st, "scrollSpeedPxPerS")) {
            if (*v < 0 || *v > 2000) badRequest("style.scrollSpeedPxPerS must be within 0..2000");
            style["scrollSpeedPxPerS"] = *v;
        }
    }
    const std::string doc = json::canonical(json::Object{{"microscape_slogan", 1}, {"style", style}, {"text", text}});
    auto tags = optStringArray(body, "tags").value_or(std::vector<std::string>{});
    auto dept = departmentFor(ctx, optString(body, "department", 100));
    auto stored = ctx.svc.media.receiveBytes(doc);
    if (!stored) {
        ctx.svc.log.error("slogan into %s failed: %s", (ctx.svc.media.root() / "tmp").string(), stored.error().message);
        throw ApiError(500, "internal", "the slogan could not be stored");
    }
    auto& svc = ctx.svc;
    auto existing = svc.db.read([&](DbConn& c) { return repo::mediaBySha(c, stored->sha256); });
    if (existing) {
        svc.media.discard(*stored);
        auto out = mediaJson(*existing);
        out->set("deduplicated", true);
        ctx.sendJson(200, out);
        return;
    }
    Media m;
    m.sha256 = stored->sha256;
    m.kind = "text";
    m.mime = "application/vnd.microscape.slogan+json";
    m.sizeBytes = static_cast<std::int64_t>(doc.size());
    m.displayName = name;
    m.originalName = "slogan-" + m.sha256.substr(0, 12) + ".json";
    m.department = dept;
    m.state = MediaState::Draft;
    m.uploadedBy = ctx.principal().user.id;
    m.sloganJson = doc;
    m.tags = std::move(tags);
    m.createdAtMs = m.updatedAtMs = svc.nowMs();
    if (auto st = svc.media.commit(*stored); !st) {
        svc.log.error("media %s: %s", stored->sha256, st.error().message);
        throw ApiError(500, "internal", "the slogan could not be stored");
    }
    Media saved;
    try {
        saved = svc.db.write([&](DbConn& c) {
            auto id = repo::insertMedia(c, m);
            auto s = *repo::mediaById(c, id);
            recordAudit(c, ctx, "create", "media", std::to_string(id), {}, mediaJson(s));
            return s;
        });
    } catch (const ConstraintError&) {
        // The same slogan was made concurrently; the other request won.
        auto other = svc.db.read([&](DbConn& c) { return repo::mediaBySha(c, m.sha256); });
        if (!other) throw;
        auto out = mediaJson(*other);
        out->set("deduplicated", true);
        ctx.sendJson(200, out);
        return;
    }
    ctx.sendJson(201, mediaJson(saved));
}

void listMedia(RequestCtx& ctx) {
    repo::MediaFilter f;
    if (auto s = ctx.query("state"); s && !s->empty()) {
        f.state = mediaStateFromName(*s);
        if (!f.state) badRequest("state must be draft, pending, approved or rejected");
    }
    f.kind = ctx.query("kind").value_or("");
    f.tag = ctx.query("tag").value_or("");
    f.department = ctx.query("department").value_or("");
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    ctx.svc.db.read([&](DbConn& c) {
        for (const auto& m : repo::listMedia(c, f)) arr->add(mediaJson(c, m));
        return 0;
    });
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("media", arr);
    ctx.sendJson(200, out);
}

Media loadMedia(DbConn& c, std::int64_t id) {
    auto m = repo::mediaById(c, id);
    if (!m) notFound("media " + std::to_string(id));
    return *m;
}

void getMedia(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    ctx.sendJson(200, ctx.svc.db.read([&](DbConn& c) { return mediaJson(c, loadMedia(c, id)); }));
}

void patchMedia(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto body = ctx.jsonBody();
    auto& svc = ctx.svc;
    auto saved = svc.db.write([&](DbConn& c) {
        repo::lockForEdit(c, repo::Editable::Media, id);
        auto m = loadMedia(c, id);
        requireSameDepartment(ctx, m.department);
        auto before = mediaJson(m);
        if (auto v = optString(body, "name", 255)) {
            checkDisplayName(*v);
            m.displayName = *v;
        }
        if (auto v = optStringArray(body, "tags")) m.tags = *v;
        if (body->has("validUntil")) {
            if (body->isNull("validUntil"))
                m.validUntilMs.reset();
            else if (auto v = optString(body, "validUntil", 64))
                m.validUntilMs = parseIsoField("validUntil", *v);
        }
        if (auto v = optString(body, "department", 100)) {
            if (ctx.principal().user.role == Role::Editor && *v != m.department)
                forbidden("editors cannot move content to another department");
            m.department = *v;
        }
        m.updatedAtMs = svc.nowMs();
        repo::updateMedia(c, m);
        recordAudit(c, ctx, "update", "media", std::to_string(id), before, mediaJson(m));
        return m;
    });
    // Display names travel in manifests.
    if (saved.state == MediaState::Approved) svc.compiler->recompileAll("media " + std::to_string(id) + " renamed");
    ctx.sendJson(200, mediaJson(saved));
}

// The approval state machine: draft|rejected -submit-> pending -approve-> approved;
// pending|approved -reject-> rejected (rejecting approved content withdraws it).
void transition(RequestCtx& ctx, const std::string& action) {
    auto id = ctx.idParam("id");
    std::string reason;
    if (action == "reject") {
        auto body = ctx.jsonBody();
        reason = reqString(body, "reason", 1000);
    } else if (ctx.parsedBody) {  // the optional body, read and checked by the dispatcher
        reason = optString(ctx.parsedBody, "comment", 1000).value_or("");
    }
    auto& svc = ctx.svc;
    const auto& who = ctx.principal().user;
    auto saved = svc.db.write([&](DbConn& c) {
        auto m = loadMedia(c, id);
        auto before = mediaJson(m);
        const MediaState from = m.state;
        const std::int64_t now = svc.nowMs();
        if (action == "submit") {
            requireSameDepartment(ctx, m.department);
            if (m.state != MediaState::Draft && m.state != MediaState::Rejected)
                throw ApiError(409, "invalid_state",
                               "only draft or rejected media can be submitted (state is " +
                                   std::string(mediaStateName(m.state)) + ")");
            if (auto r = repo::recallOfMedia(c, id))
                throw ApiError(409, "recalled",
                               "recalled media (recall " + std::to_string(r->id) +
                                   ") is not shown again; upload a corrected file");
            m.state = MediaState::Pending;
        } else if (action == "approve") {
            if (m.uploadedBy == who.id) forbidden("nobody approves their own upload; another approver must review it");
            if (m.state != MediaState::Pending)
                throw ApiError(
                    409, "invalid_state",
                    "only pending media can be approved (state is " + std::string(mediaStateName(m.state)) + ")");
            m.state = MediaState::Approved;
            m.reviewedBy = who.id;
            m.reviewedAtMs = now;
            m.reviewReason = reason;
        } else {
            if (m.state != MediaState::Pending && m.state != MediaState::Approved)
                throw ApiError(409, "invalid_state",
                               "only pending or approved media can be rejected (state is " +
                                   std::string(mediaStateName(m.state)) + ")");
            m.state = MediaState::Rejected;
            m.reviewedBy = who.id;
            m.reviewedAtMs = now;
            m.reviewReason = reason;
        }
        m.updatedAtMs = now;
        // Another approver's decision since the read: decide again on it.
        if (!repo::changeMediaState(c, m, from))
            throw RetryableError("media " + std::to_string(id) + " changed state meanwhile");
        recordAudit(c, ctx, action, "media", std::to_string(id), before, mediaJson(m));
        return m;
    });
    if (action != "submit") svc.compiler->recompileAll("media " + std::to_string(id) + " " + action + "d");
    ctx.sendJson(200, mediaJson(saved));
}

void deleteMedia(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto& svc = ctx.svc;
    std::string sha;
    std::vector<std::string> blobs;
    try {
        svc.db.write([&](DbConn& c) {
            // (Decided on its state: an approval or recall committed meanwhile counts.)
            repo::lockForEdit(c, repo::Editable::Media, id);
            auto m = loadMedia(c, id);
            for (const auto& d : repo::derivedOf(c, id))
                if (!d.sha256.empty()) blobs.push_back(d.sha256);
            requireSameDepartment(ctx, m.department);
            if (m.state == MediaState::Approved)
                throw ApiError(409, "invalid_state", "reject (withdraw) approved media before deleting it");
            if (repo::recallOfMedia(c, id))
                throw ApiError(409, "recalled", "recalled media is kept as the evidence of its recall");
            sha = m.sha256;
            repo::deleteMedia(c, id);
            recordAudit(c, ctx, "delete", "media", std::to_string(id), mediaJson(m), {});
        });
    } catch (const ConstraintError&) {
        throw ApiError(409, "in_use", "media is still used by a playlist");
    }
    blobs.push_back(sha);
    for (const auto& b : blobs) {
        if (svc.db.read([&](DbConn& c) { return repo::contentInUse(c, b); })) continue;  // shared content
        std::error_code ec;
        std::filesystem::remove(svc.media.pathOf(b), ec);
    }
    ctx.sendNoContent();
}

bool onlineFn(RequestCtx& ctx, const std::string& playerId) {
    return ctx.svc.hub && ctx.svc.hub->isOnline(playerId);
}

void recall(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto body = ctx.jsonBody();
    const std::string reason = reqString(body, "reason", 1000);
    auto r = recallMedia(ctx.svc, id, reason, ctx.principal().actor(), false);
    auto out = ctx.svc.db.read([&](DbConn& c) {
        return recallStatusJson(c, *repo::recallById(c, r.id), [&](const std::string& p) { return onlineFn(ctx, p); });
    });
    ctx.sendJson(201, out);
}

void getRecall(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto& svc = ctx.svc;
    svc.db.write([&](DbConn& c) { settleRecalls(c, svc.nowMs()); });
    auto out = svc.db.read([&](DbConn& c) {
        loadMedia(c, id);
        auto r = repo::recallOfMedia(c, id);
        if (!r) notFound("recall of media " + std::to_string(id));
        return recallStatusJson(c, *r, [&](const std::string& p) { return onlineFn(ctx, p); });
    });
    ctx.sendJson(200, out);
}

void listRecalls(RequestCtx& ctx) {
    auto& svc = ctx.svc;
    svc.db.write([&](DbConn& c) { settleRecalls(c, svc.nowMs()); });
    auto out = svc.db.read([&](DbConn& c) {
        Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
        for (const auto& r : repo::listRecalls(c))
            arr->add(recallStatusJson(c, r, [&](const std::string& p) { return onlineFn(ctx, p); }));
        Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
        o->set("recalls", arr);
        return o;
    });
    ctx.sendJson(200, out);
}

std::string contentDisposition(const std::string& fileName) {
    std::string enc;
    Poco::URI::encode(fileName, "!#$&'()*+,/:;=?@[]\" ", enc);
    return "inline; filename*=UTF-8''" + enc;
}

void sendContent(RequestCtx& ctx, const Media& m);

void download(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    sendContent(ctx, ctx.svc.db.read([&](DbConn& c) { return loadMedia(c, id); }));
}

// A derived file (normalised still, rendition), served like the original.
void downloadDerived(RequestCtx& ctx) {
    auto id = ctx.idParam("id");
    auto did = ctx.idParam("did");
    auto m = ctx.svc.db.read([&](DbConn& c) {
        auto orig = loadMedia(c, id);
        auto d = repo::derivedById(c, did);
        if (!d || d->mediaId != id || d->state != "ready") notFound("derived file " + std::to_string(did));
        Media as = orig;
        as.sha256 = d->sha256;
        as.sizeBytes = d->sizeBytes;
        as.mime = d->mime;
        const std::string ext = d->mime == "image/jpeg" ? ".jpg" : d->mime == "image/png" ? ".png" : ".mp4";
        as.originalName =
            (orig.originalName.empty() ? orig.sha256.substr(0, 12) : orig.originalName) + "." + d->purpose +
            (d->boxWidth ? "-" + std::to_string(d->boxWidth) + "x" + std::to_string(d->boxHeight) : std::string()) +
            ext;
        return as;
    });
    sendContent(ctx, m);
}

void sendContent(RequestCtx& ctx, const Media& m) {
    auto path = ctx.svc.media.pathOf(m.sha256);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ApiError(500, "internal", "media file missing from the store");
    std::int64_t size = m.sizeBytes, first = 0, last = size - 1;
    const std::string range = ctx.req.get("Range", "");
    bool partial = false;
    if (range.rfind("bytes=", 0) == 0 && range.find(',') == std::string::npos && size > 0) {
        auto dash = range.find('-');
        try {
            std::string a = range.substr(6, dash - 6), b = range.substr(dash + 1);
            if (a.empty()) {
                first = std::max<std::int64_t>(0, size - std::stoll(b));
            } else {
                first = static_cast<std::int64_t>(std::stoll(a));
                if (!b.empty()) last = std::min<std::int64_t>(last, std::stoll(b));
            }
            partial = first <= last && first < size;
            if (!partial) {
                ctx.resp.set("Content-Range", "bytes */" + std::to_string(size));
                throw ApiError(416, "bad_range", "range not satisfiable");
            }
        } catch (const std::logic_error&) {
            first = 0;
            last = size - 1;
        }
    }
    ctx.resp.setContentType(m.mime);
    ctx.resp.set("Content-Disposition", contentDisposition(m.originalName.empty() ? m.sha256 : m.originalName));
    ctx.resp.set("ETag", "\"" + m.sha256 + "\"");
    ctx.resp.set("Accept-Ranges", "bytes");
    ctx.resp.set("Cache-Control", "private, max-age=86400, immutable");
    if (partial) {
        ctx.resp.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_PARTIAL_CONTENT);
        ctx.resp.set("Content-Range",
                     "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(size));
    }
    const std::int64_t length = last - first + 1;
    ctx.resp.setContentLength64(length);
    auto& out = ctx.resp.send();
    in.seekg(first);
    std::vector<char> buf(256 * 1024);
    std::int64_t left = length;
    while (left > 0 && in) {
        in.read(buf.data(), static_cast<std::streamsize>(std::min<std::int64_t>(left, buf.size())));
        auto n = in.gcount();
        if (n <= 0) break;
        out.write(buf.data(), n);
        left -= n;
    }
}

}  // namespace

void addMediaRoutes(Router& r) {
    r.add(
        withQuery(
            Route{"GET", "/api/v1/media", kAnyUser, "media", "List media (?state=&kind=&tag=&department=)", listMedia},
            {{"state", "string", "", {"draft", "pending", "approved", "rejected"}}, {"kind"}, {"tag"}, {"department"}})
            .reply("MediaList"));
    r.add(withQuery(Route{"POST", "/api/v1/media", kAdmin | kEditor, "media",
                          "Upload a file: multipart/form-data (file, name, tags, department, background) or a raw "
                          "body with ?filename=&name=&tags=a,b&background=%23RRGGBB; streamed to disk, hashed, "
                          "deduplicated, normalised (stills), decoded; refused with a code that says why",
                          upload, 201},
                    {{"filename"}, {"name"}, {"tags"}, {"department"}, {"background"}})
              .body("Upload")
              .bodyAs("multipart/form-data")
              .bodyAs("application/octet-stream")
              .reply("Media")
              .also(200));
    r.add(Route{"POST", "/api/v1/media/slogans", kAdmin | kEditor, "media", "Create a text slogan", createSlogan, 201}
              .body("SloganCreate")
              .reply("Media")
              .also(200));
    r.add(Route{"GET", "/api/v1/media/{id}", kAnyUser, "media", "Get media metadata", getMedia}.reply("Media"));
    r.add(Route{"PATCH", "/api/v1/media/{id}", kAdmin | kEditor, "media", "Rename, retag or move media", patchMedia}
              .body("MediaChange")
              .reply("Media"));
    r.add({"DELETE", "/api/v1/media/{id}", kAdmin | kEditor, "media", "Delete unused, unapproved media", deleteMedia,
           204});
    r.add(Route{"POST", "/api/v1/media/{id}/submit", kAdmin | kEditor, "media",
                "Submit for approval (draft -> pending)", [](RequestCtx& c) { transition(c, "submit"); }}
              .body("Review", false)
              .reply("Media"));
    r.add(Route{"POST", "/api/v1/media/{id}/approve", kAdmin | kApprover, "media",
                "Approve pending media (not one's own upload)", [](RequestCtx& c) { transition(c, "approve"); }}
              .body("Review", false)
              .reply("Media"));
    r.add(Route{"POST", "/api/v1/media/{id}/reject", kAdmin | kApprover, "media",
                "Reject pending media or withdraw approved media, with a reason",
                [](RequestCtx& c) { transition(c, "reject"); }}
              .body("Rejection")
              .reply("Media"));
    r.add(Route{"POST", "/api/v1/media/{id}/recall", kAdmin | kApprover, "media",
                "Recall media from every screen, with a reason; answers the recall's per-screen state", recall, 201}
              .body("RecallCreate")
              .reply("Recall"));
    r.add(Route{"GET", "/api/v1/media/{id}/recall", kAnyUser, "media",
                "The media's recall: per screen, the version without it, its confirmation, last play and state",
                getRecall}
              .reply("Recall"));
    r.add(Route{"GET", "/api/v1/recalls", kAnyUser, "media", "Every recall, newest first, with its state", listRecalls}
              .reply("RecallList"));
    r.add(Route{"GET", "/api/v1/media/{id}/content", kAnyUser, "media", "Download the file (Range supported)", download}
              .replyAs("*/*")
              .also(206));
    r.add(Route{"GET", "/api/v1/media/{id}/derived/{did}/content", kAnyUser, "media",
                "Download a file derived from the media (normalised still, rendition; Range supported)",
                downloadDerived}
              .replyAs("*/*")
              .also(206));
}

}  // namespace microscape::controller
